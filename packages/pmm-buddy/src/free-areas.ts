import { AllocatorError, PAGE_SIZE, hex, type PhysicalMemory } from "@allockit/core";
import { clearBit, findBit, lowestSetBit, setBit, testBit } from "./ram-bitmap.js";
import type { RegionTable } from "./region-table.js";
import { ZONE_COUNT, type ZoneFrames } from "./zones.js";

const TWO_POW_32 = 2 ** 32;
/** Byte offsets of the links a free block carries in its first bytes. */
const NEXT_LINK = 0;
const PREV_LINK = 8;
const LINK_BYTES = 16;

/**
 * The buddy system proper: per zone and order, the free blocks, and the two operations that
 * keep them maximal, `release` (insert with coalescing) and `split`.
 *
 * Orders below the top one keep a doubly linked list threaded through the free blocks
 * themselves: the first 16 bytes of a free block hold the physical addresses of the next and
 * previous block (64-bit, little-endian; 0 ends the list, frame 0 never being managed). The
 * free bitmap of the order says which blocks are on those lists, which is what lets a buddy
 * be found and unlinked in O(1).
 *
 * The top order keeps no list: its free bitmap is the whole record, scanned from a per-zone
 * hint. That is the lazy part: init marks millions of frames free by setting one bit per
 * 2^maxOrder frames, without writing a single link into the blocks, so it touches a few pages
 * of bitmap instead of one page per block. Top-order blocks are taken rarely (once per
 * 2^maxOrder single-frame allocations), so the scan costs little.
 *
 * Frames are global frame numbers (address / 4096); inside a region, `index` is the frame's
 * offset from the region base, aligned like the frame because regions are block-aligned.
 */
export class FreeAreas {
  readonly orderCount: number;
  /** Address of the first block of list `[zone * orderCount + order]`, 0 when empty. */
  readonly heads: Float64Array;
  /** Free blocks per `[zone * orderCount + order]`. */
  readonly blockCounts: Float64Array;
  /** Per zone, bit k set while order k has free blocks. */
  readonly nonEmptyOrders = new Int32Array(ZONE_COUNT);
  /** Free frames per zone. */
  readonly freeFrames = new Float64Array(ZONE_COUNT);
  /** Per zone: no free top-order block starts below this frame. */
  readonly topScanFrom = new Float64Array(ZONE_COUNT);

  constructor(
    private readonly memory: PhysicalMemory,
    readonly regions: RegionTable,
    readonly zones: ZoneFrames,
    readonly maxOrder: number,
    /** Zero the links of a block when it leaves its list ("on-free" scrubbing). */
    private readonly clearLinks: boolean,
  ) {
    this.orderCount = maxOrder + 1;
    this.heads = new Float64Array(ZONE_COUNT * this.orderCount);
    this.blockCounts = new Float64Array(ZONE_COUNT * this.orderCount);
    this.topScanFrom.fill(Number.MAX_SAFE_INTEGER);
  }

  /** Address of the order-`order` free bitmap of region `region`. */
  freeBitmap(region: number, order: number): number {
    return this.regions.freeBitmap[region * this.orderCount + order]!;
  }

  /** True when the block at `frame` is free at exactly `order`. */
  isFreeBlock(frame: number, order: number): boolean {
    const r = this.regions.find(frame);
    if (r < 0) return false;
    const index = frame - this.regions.baseFrame[r]!;
    return testBit(this.memory, this.freeBitmap(r, order), index >>> order);
  }

  /** Puts a block on its list as it is, without coalescing. */
  insert(frame: number, order: number, zone: number): void {
    const r = this.regions.find(frame);
    const index = frame - this.regions.baseFrame[r]!;
    setBit(this.memory, this.freeBitmap(r, order), index >>> order);
    const slot = zone * this.orderCount + order;
    if (order < this.maxOrder) {
      const address = frame * PAGE_SIZE;
      const head = this.heads[slot]!;
      this.writeLink(address + NEXT_LINK, head);
      this.writeLink(address + PREV_LINK, 0);
      if (head !== 0) this.writeLink(head + PREV_LINK, address);
      this.heads[slot] = address;
    } else if (frame < this.topScanFrom[zone]!) {
      this.topScanFrom[zone] = frame;
    }
    this.blockCounts[slot]!++;
    this.nonEmptyOrders[zone]! |= 1 << order;
    this.freeFrames[zone]! += 2 ** order;
  }

  /** Takes a block known to be free at `order` off its list. */
  remove(frame: number, order: number, zone: number): void {
    const r = this.regions.find(frame);
    const index = frame - this.regions.baseFrame[r]!;
    clearBit(this.memory, this.freeBitmap(r, order), index >>> order);
    const slot = zone * this.orderCount + order;
    if (order < this.maxOrder) this.unlink(frame * PAGE_SIZE, slot);
    if (--this.blockCounts[slot]! === 0) this.nonEmptyOrders[zone]! &= ~(1 << order);
    this.freeFrames[zone]! -= 2 ** order;
  }

  /** Removes and returns some free block of `order` in `zone` (the list head; the lowest top block). */
  takeFirst(zone: number, order: number): number {
    if (order < this.maxOrder) {
      const frame = this.heads[zone * this.orderCount + order]! / PAGE_SIZE;
      this.remove(frame, order, zone);
      return frame;
    }
    const from = Math.max(this.topScanFrom[zone]!, this.zones.lowFrame[zone]!);
    const frame = this.nextFreeBlock(this.maxOrder, from, this.zones.highFrame[zone]!);
    if (frame < 0) {
      throw new AllocatorError(
        "ECORRUPT",
        `zone ${zone} counts ${this.blockCounts[zone * this.orderCount + this.maxOrder]} free top-order blocks but its bitmap has none from frame ${hex(from)}`,
        from,
      );
    }
    this.remove(frame, this.maxOrder, zone);
    this.topScanFrom[zone] = frame + 2 ** this.maxOrder;
    return frame;
  }

  /**
   * Frees a block, merging it with its buddy for as long as the buddy is free at the same
   * order and the merged block stays inside the zone.
   */
  release(frame: number, order: number, zone: number): void {
    const r = this.regions.find(frame);
    const base = this.regions.baseFrame[r]!;
    const zoneLow = this.zones.lowFrame[zone]!;
    const zoneHigh = this.zones.highFrame[zone]!;
    let index = frame - base;
    let level = order;
    while (level < this.maxOrder) {
      const size = 1 << level;
      const buddyIndex = index ^ size;
      const mergedIndex = index & ~size;
      const mergedFrame = base + mergedIndex;
      if (mergedFrame < zoneLow || mergedFrame + 2 * size > zoneHigh) break;
      if (!testBit(this.memory, this.freeBitmap(r, level), buddyIndex >>> level)) break;
      this.remove(base + buddyIndex, level, zone);
      index = mergedIndex;
      level++;
    }
    this.insert(base + index, level, zone);
  }

  /**
   * Frees the run `[frame, frame + count)` as maximal naturally aligned blocks, each inside one
   * zone and one region, coalescing each with its buddies.
   */
  releaseRun(frame: number, count: number): void {
    const end = frame + count;
    let at = frame;
    while (at < end) {
      const r = this.regions.find(at);
      const index = at - this.regions.baseFrame[r]!;
      const zone = this.zones.zoneOf(at);
      const limit = Math.min(end, this.zones.highFrame[zone]!, this.regions.endFrame[r]!);
      let order = index === 0 ? this.maxOrder : Math.min(this.maxOrder, lowestSetBit(index));
      while (at + 2 ** order > limit) order--;
      this.release(at, order, zone);
      at += 2 ** order;
    }
  }

  /**
   * Splits the (already removed) block at `frame` of `order` down to `targetOrder`, keeping the
   * piece that holds `keepFrame` and putting the other halves on their lists.
   */
  split(frame: number, order: number, targetOrder: number, keepFrame: number, zone: number): void {
    let start = frame;
    for (let level = order - 1; level >= targetOrder; level--) {
      const half = 2 ** level;
      if (keepFrame >= start + half) {
        this.insert(start, level, zone);
        start += half;
      } else {
        this.insert(start + half, level, zone);
      }
    }
  }

  /**
   * Start of the first free block of `order` that overlaps `[fromFrame, toFrame)` and starts at
   * or after the block holding `fromFrame`, or -1. Reads the bitmaps a word at a time.
   */
  nextFreeBlock(order: number, fromFrame: number, toFrame: number): number {
    const regions = this.regions;
    const blockFrames = 2 ** order;
    for (let r = regions.firstEndingAfter(fromFrame); r < regions.count; r++) {
      const base = regions.baseFrame[r]!;
      if (base >= toFrame) break;
      const low = Math.max(fromFrame, base) - base;
      const high = Math.min(toFrame, regions.endFrame[r]!) - base;
      const firstBit = Math.floor(low / blockFrames);
      const endBit = Math.ceil(high / blockFrames);
      const bit = findBit(this.memory, this.freeBitmap(r, order), firstBit, endBit, true);
      if (bit >= 0) return base + bit * blockFrames;
    }
    return -1;
  }

  /** Address of the block after `address` on its list (0 at the end). */
  nextOnList(address: number): number {
    return this.readLink(address + NEXT_LINK);
  }

  /** Address of the block before `address` on its list (0 at the head). */
  previousOnList(address: number): number {
    return this.readLink(address + PREV_LINK);
  }

  private unlink(address: number, slot: number): void {
    const next = this.readLink(address + NEXT_LINK);
    const previous = this.readLink(address + PREV_LINK);
    if (previous === 0) {
      // A block claiming to be a head must be the head: otherwise its links were overwritten
      // and following them would scribble over someone else's memory.
      if (this.heads[slot] !== address) {
        throw new AllocatorError(
          "ECORRUPT",
          `free block ${hex(address)} has no previous link but is not the head of its list (head ${hex(this.heads[slot]!)})`,
          address,
        );
      }
      this.heads[slot] = next;
    } else {
      this.writeLink(previous + NEXT_LINK, next);
    }
    if (next !== 0) this.writeLink(next + PREV_LINK, previous);
    if (this.clearLinks) this.memory.fill(address, 0, LINK_BYTES);
  }

  private readLink(at: number): number {
    return this.memory.read64High(at) * TWO_POW_32 + this.memory.read64Low(at);
  }

  private writeLink(at: number, value: number): void {
    this.memory.write64(at, value >>> 0, Math.floor(value / TWO_POW_32));
  }
}
