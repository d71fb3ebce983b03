import { PAGE_SIZE, alignUp, type FrameRequest } from "@allockit/core";
import type { FreeAreas } from "./free-areas.js";

/** Bits a bitmap scan reads per word: the unit of its cost. */
const BITS_PER_WORD = 32;

/**
 * Finds a free block for a constrained request (`below`, an align larger than the block, a
 * zone range cut short): the smallest order first, and at each order whichever is shorter,
 * walking the free list or scanning the free bitmap over the allowed range. The result lands in
 * the fields, so a search allocates nothing.
 */
export class BlockSearch {
  /** The free block found: its first frame and order. */
  blockFrame = 0;
  blockOrder = 0;
  /** Where the run starts inside that block. */
  runFrame = 0;

  constructor(private readonly areas: FreeAreas) {}

  /**
   * True when some free block of `zone` of order >= `minOrder` holds a run of `request.count`
   * frames inside `[lowFrame, highFrame)`, starting at a multiple of `stepFrames`, that
   * `request.fits`.
   */
  find(
    zone: number,
    minOrder: number,
    lowFrame: number,
    highFrame: number,
    stepFrames: number,
    request: FrameRequest,
  ): boolean {
    const areas = this.areas;
    for (let order = minOrder; order <= areas.maxOrder; order++) {
      const blocks = areas.blockCounts[zone * areas.orderCount + order]!;
      if (blocks === 0) continue;
      const scanWords = (highFrame - lowFrame) / 2 ** order / BITS_PER_WORD;
      const found =
        order < areas.maxOrder && blocks <= scanWords
          ? this.walkList(zone, order, blocks, lowFrame, highFrame, stepFrames, request)
          : this.scanBitmap(order, lowFrame, highFrame, stepFrames, request);
      if (found) return true;
    }
    return false;
  }

  private walkList(
    zone: number,
    order: number,
    blocks: number,
    lowFrame: number,
    highFrame: number,
    stepFrames: number,
    request: FrameRequest,
  ): boolean {
    let frame = this.areas.heads[zone * this.areas.orderCount + order]!;
    // Bounded by the count, so a corrupted (cyclic) list cannot hang the search.
    for (let seen = 0; frame !== 0 && seen < blocks; seen++) {
      if (this.holds(frame, order, lowFrame, highFrame, stepFrames, request)) return true;
      frame = this.areas.nextOnList(frame);
    }
    return false;
  }

  private scanBitmap(
    order: number,
    lowFrame: number,
    highFrame: number,
    stepFrames: number,
    request: FrameRequest,
  ): boolean {
    const blockFrames = 2 ** order;
    let frame = this.areas.nextFreeBlock(order, lowFrame, highFrame);
    while (frame >= 0) {
      if (this.holds(frame, order, lowFrame, highFrame, stepFrames, request)) return true;
      // A block smaller than the step can only hold a run if it starts on a step multiple.
      let next = frame + blockFrames;
      if (stepFrames > blockFrames) next = alignUp(next, stepFrames);
      frame = this.areas.nextFreeBlock(order, next, highFrame);
    }
    return false;
  }

  /** True (and the fields set) when the block holds an acceptable run. */
  private holds(
    blockFrame: number,
    order: number,
    lowFrame: number,
    highFrame: number,
    stepFrames: number,
    request: FrameRequest,
  ): boolean {
    const runFrame = alignUp(Math.max(blockFrame, lowFrame), stepFrames);
    const limit = Math.min(blockFrame + 2 ** order, highFrame);
    if (runFrame + request.count > limit || !request.fits(runFrame * PAGE_SIZE)) return false;
    this.blockFrame = blockFrame;
    this.blockOrder = order;
    this.runFrame = runFrame;
    return true;
  }
}
