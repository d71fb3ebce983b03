import { AllocatorError, PAGE_SIZE, hex, type PhysicalMemory } from "@allockit/core";
import { clearBit, findBit, lowestSetBit, setBit, testBit } from "./ram-bitmap.js";
import { zeros, type RegionTable } from "./region-table.js";
import { ZONE_COUNT, type ZoneFrames } from "./zones.js";

const TWO_POW_32 = 2 ** 32;
/** Byte offsets of the links a free block carries in its first bytes. */
const NEXT_LINK = 0;
const PREV_LINK = 8;
const LINK_BYTES = 16;
/** Frame numbers below this fit a 32-bit link. */
const NARROW_FRAME_LIMIT = 2 ** 32;

/**
 * The buddy system proper: per zone and order, the free blocks, and the two operations that
 * keep them maximal, `release` (insert with coalescing) and `split`.
 *
 * Orders below the top one keep a doubly linked list threaded through the free blocks
 * themselves: the first 16 bytes of a free block hold the frame numbers of the next block (at
 * byte 0) and of the previous one (at byte 8). While every frame number of the regions fits 32
 * bits (RAM below 16 TiB) a link is the little-endian 32-bit word at its offset and the other
 * half is left as it is; beyond that it is a 64-bit value written as two halves. 0 ends the
 * list (frame 0 is never managed). The head's previous link is not kept: a block is the head
 * exactly when the list head (in JS) names it, so taking the head reads one word and pushing a
 * block writes two (its next link, the old head's previous link). The free bitmap of the order
 * says which blocks are on those lists, which is what lets a buddy be found and unlinked in O(1).
 *
 * The top order keeps no list: its free bitmap is the whole record, scanned from a per-zone
 * hint. That is the lazy part: init marks millions of frames free by setting one bit per
 * 2^maxOrder frames, without writing a single link into the blocks, so it touches a few pages
 * of bitmap instead of one page per block. Top-order blocks are taken rarely (once per
 * 2^maxOrder single-frame allocations), so the scan costs little.
 *
 * `takeFrame` and `freeFrame` are the single-frame hot paths: they also keep the allocated
 * bitmap, reading each bitmap word once and reusing it to test, set and clear (a frame and its
 * order-0 buddy share a word).
 *
 * Frames are global frame numbers (address / 4096); inside a region, `index` is the frame's
 * offset from the region base, aligned like the frame because regions are block-aligned.
 */
export class FreeAreas {
  readonly orderCount: number;
  /** Frame number of the first block of list `[zone * orderCount + order]`, 0 when empty. */
  readonly heads: number[];
  /** Free blocks per `[zone * orderCount + order]`. */
  readonly blockCounts: Float64Array;
  /** Per zone, bit k set while order k has free blocks. */
  readonly nonEmptyOrders = new Int32Array(ZONE_COUNT);
  /** Free frames per zone. */
  readonly freeFrames = new Float64Array(ZONE_COUNT);
  /** Per zone: no free top-order block starts below this frame. */
  readonly topScanFrom = new Float64Array(ZONE_COUNT);
  /** Links are 64-bit (some frame number reaches 2^32). */
  readonly wideLinks: boolean;

  constructor(
    private readonly memory: PhysicalMemory,
    readonly regions: RegionTable,
    readonly zones: ZoneFrames,
    readonly maxOrder: number,
    /** Zero the links of a block when it leaves its list ("on-free" scrubbing). */
    private readonly clearLinks: boolean,
  ) {
    this.orderCount = maxOrder + 1;
    this.heads = zeros(ZONE_COUNT * this.orderCount);
    this.blockCounts = new Float64Array(ZONE_COUNT * this.orderCount);
    this.topScanFrom.fill(Number.MAX_SAFE_INTEGER);
    this.wideLinks = regions.count > 0 && regions.endFrame[regions.count - 1]! > NARROW_FRAME_LIMIT;
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
    if (order < this.maxOrder) this.push(frame, slot);
    else if (frame < this.topScanFrom[zone]!) this.topScanFrom[zone] = frame;
    this.counted(slot, zone, order);
  }

  /** Takes a block known to be free at `order` off its list. */
  remove(frame: number, order: number, zone: number): void {
    const r = this.regions.find(frame);
    const index = frame - this.regions.baseFrame[r]!;
    clearBit(this.memory, this.freeBitmap(r, order), index >>> order);
    const slot = zone * this.orderCount + order;
    if (order < this.maxOrder) this.unlink(frame, slot);
    this.uncounted(slot, zone, order);
  }

  /** Removes and returns some free block of `order` in `zone` (the list head; the lowest top block). */
  takeFirst(zone: number, order: number): number {
    if (order < this.maxOrder) {
      const frame = this.heads[zone * this.orderCount + order]!;
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
   * Single-frame allocation: takes the head of the order-0 list of `zone` (which must be
   * non-empty, and order 0 below the top order) and marks it allocated. Returns its frame.
   */
  takeFrame(zone: number): number {
    const memory = this.memory;
    const regions = this.regions;
    const slot = zone * this.orderCount;
    const frame = this.heads[slot]!;
    const next = this.readLink(frame * PAGE_SIZE + NEXT_LINK);
    const r = regions.find(frame);
    if (r < 0) throw listCorrupt(frame, "is outside every region");
    const index = frame - regions.baseFrame[r]!;
    const wordOffset = (index >>> 5) * 4;
    const mask = 1 << (index & 31);
    const freeAt = regions.freeBitmap[r * this.orderCount]! + wordOffset;
    const freeWord = memory.read32(freeAt);
    if ((freeWord & mask) === 0) throw listCorrupt(frame, "has its free bit clear");
    memory.write32(freeAt, freeWord & ~mask);
    const allocatedAt = regions.allocatedBitmap[r]! + wordOffset;
    memory.write32(allocatedAt, memory.read32(allocatedAt) | mask);
    this.heads[slot] = next;
    if (this.clearLinks) memory.fill(frame * PAGE_SIZE, 0, LINK_BYTES);
    this.uncounted(slot, zone, 0);
    return frame;
  }

  /**
   * Single-frame free: when `frame` is allocated, clears its allocated bit and frees it at
   * order 0 (coalescing when its buddy is free), zeroing it first under "on-free" scrubbing.
   * False, with nothing changed, when it is not an allocated frame of a region.
   */
  freeFrame(frame: number): boolean {
    const memory = this.memory;
    const regions = this.regions;
    const r = regions.find(frame);
    if (r < 0) return false;
    const base = regions.baseFrame[r]!;
    const index = frame - base;
    const wordOffset = (index >>> 5) * 4;
    const mask = 1 << (index & 31);
    const allocatedAt = regions.allocatedBitmap[r]! + wordOffset;
    const allocatedWord = memory.read32(allocatedAt);
    if ((allocatedWord & mask) === 0) return false;
    memory.write32(allocatedAt, allocatedWord & ~mask);
    if (this.clearLinks) memory.fill(frame * PAGE_SIZE, 0, PAGE_SIZE);
    const zone = this.zones.zoneOf(frame);
    if (this.maxOrder === 0) {
      this.insert(frame, 0, zone);
      return true;
    }
    const freeAt = regions.freeBitmap[r * this.orderCount]! + wordOffset;
    const freeWord = memory.read32(freeAt);
    if ((freeWord & (1 << ((index ^ 1) & 31))) !== 0) {
      // The buddy is free: coalesce (the general path, which checks the zone).
      this.release(frame, 0, zone);
      return true;
    }
    memory.write32(freeAt, freeWord | mask);
    this.push(frame, zone * this.orderCount);
    this.counted(zone * this.orderCount, zone, 0);
    return true;
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

  /** Frame of the block after `frame` on its list (0 at the end). */
  nextOnList(frame: number): number {
    return this.readLink(frame * PAGE_SIZE + NEXT_LINK);
  }

  /** Frame of the block before `frame` on its list (not kept for the head). */
  previousOnList(frame: number): number {
    return this.readLink(frame * PAGE_SIZE + PREV_LINK);
  }

  private counted(slot: number, zone: number, order: number): void {
    this.blockCounts[slot]!++;
    this.nonEmptyOrders[zone]! |= 1 << order;
    this.freeFrames[zone]! += 1 << order;
  }

  private uncounted(slot: number, zone: number, order: number): void {
    if (--this.blockCounts[slot]! === 0) this.nonEmptyOrders[zone]! &= ~(1 << order);
    this.freeFrames[zone]! -= 1 << order;
  }

  /** Makes `frame` the head of list `slot`. */
  private push(frame: number, slot: number): void {
    const head = this.heads[slot]!;
    this.writeLink(frame * PAGE_SIZE + NEXT_LINK, head);
    if (head !== 0) this.writeLink(head * PAGE_SIZE + PREV_LINK, frame);
    this.heads[slot] = frame;
  }

  private unlink(frame: number, slot: number): void {
    const address = frame * PAGE_SIZE;
    const next = this.readLink(address + NEXT_LINK);
    if (this.heads[slot] === frame) {
      this.heads[slot] = next;
    } else {
      const previous = this.readLink(address + PREV_LINK);
      // A block that is not the head must have a previous block: otherwise its links were
      // overwritten and following them would scribble over someone else's memory.
      if (previous === 0) {
        throw new AllocatorError(
          "ECORRUPT",
          `free block ${hex(address)} has no previous link but is not the head of its list (head ${hex(this.heads[slot]! * PAGE_SIZE)})`,
          address,
        );
      }
      this.writeLink(previous * PAGE_SIZE + NEXT_LINK, next);
      if (next !== 0) this.writeLink(next * PAGE_SIZE + PREV_LINK, previous);
    }
    if (this.clearLinks) this.memory.fill(address, 0, LINK_BYTES);
  }

  private readLink(at: number): number {
    return this.wideLinks
      ? this.memory.read64High(at) * TWO_POW_32 + this.memory.read64Low(at)
      : this.memory.read32(at);
  }

  private writeLink(at: number, frame: number): void {
    if (this.wideLinks) this.memory.write64(at, frame >>> 0, Math.floor(frame / TWO_POW_32));
    else this.memory.write32(at, frame);
  }
}

function listCorrupt(frame: number, what: string): AllocatorError {
  const address = frame * PAGE_SIZE;
  return new AllocatorError(
    "ECORRUPT",
    `the head ${hex(address)} of an order-0 free list ${what}`,
    address,
  );
}
