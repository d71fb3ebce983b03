import { AllocatorError, PAGE_SIZE, hex, type PhysicalMemory } from "@allockit/core";
import {
  FULL_WORD,
  WORD_BITS,
  WORD_BYTES,
  WORD_SHIFT,
  bitRangeMask,
  bitsBelow,
  lowestClearBit,
  lowestSetBit,
  popcount32,
} from "./bits.js";
import { writeDescriptor, writeHeader } from "./descriptors.js";
import {
  DESCRIPTOR_BYTES,
  DESC_FREE_FRAMES,
  DESC_NEXT_FIT,
  DESC_UNMANAGED_FRAMES,
  HEADER_BYTES,
  MAX_LEVELS,
  levelWordCounts,
  type RegionPlan,
} from "./layout.js";

/**
 * The per-region hierarchical bitmaps, in simulated RAM (see layout.ts for the bytes).
 *
 * Regions are numbered in address order. Frame indices here are region-relative (0 ..
 * frameCount - 1), so all bit math is 32-bit. The region geometry (where each level lives, how
 * many words it has) is fixed at init and mirrored in small typed arrays, one entry per region,
 * so the hot path does not re-read it. The descriptor counters (free, unmanaged, next-fit) are
 * mirrored too and written through to RAM on every change; bits are always read from RAM.
 */
export class FrameBitmaps {
  readonly regionCount: number;
  /** Absolute frame number of each region's first frame. */
  readonly baseFrame: Float64Array;
  readonly frameCount: Uint32Array;
  readonly zoneIndex: Uint8Array;
  readonly levelCount: Uint8Array;
  readonly descriptorAddr: Float64Array;
  /** Address and word count of level `l` of region `r` at `r * MAX_LEVELS + l`. */
  readonly levelAddr: Float64Array;
  readonly levelWords: Uint32Array;
  readonly unmanagedAddr: Float64Array;
  // The descriptors' counters, mirrored and written through, so the hot path never reads
  // them back; check() compares both copies.
  private readonly freeCount: Uint32Array;
  private readonly unmanagedCount: Uint32Array;
  private readonly nextFitIndex: Uint32Array;

  private constructor(
    readonly memory: PhysicalMemory,
    readonly metadataAddr: number,
    readonly metadataBytes: number,
    plans: readonly RegionPlan[],
  ) {
    const count = plans.length;
    this.regionCount = count;
    this.baseFrame = new Float64Array(count);
    this.frameCount = new Uint32Array(count);
    this.zoneIndex = new Uint8Array(count);
    this.levelCount = new Uint8Array(count);
    this.descriptorAddr = new Float64Array(count);
    this.levelAddr = new Float64Array(count * MAX_LEVELS);
    this.levelWords = new Uint32Array(count * MAX_LEVELS);
    this.unmanagedAddr = new Float64Array(count);
    this.freeCount = new Uint32Array(count);
    this.unmanagedCount = new Uint32Array(count);
    this.nextFitIndex = new Uint32Array(count);
    let next = metadataAddr + HEADER_BYTES + count * DESCRIPTOR_BYTES;
    plans.forEach((plan, region) => {
      this.baseFrame[region] = plan.baseFrame;
      this.frameCount[region] = plan.frameCount;
      this.freeCount[region] = plan.frameCount;
      this.zoneIndex[region] = plan.zoneIndex;
      this.descriptorAddr[region] = metadataAddr + HEADER_BYTES + region * DESCRIPTOR_BYTES;
      const words = levelWordCounts(plan.frameCount);
      this.levelCount[region] = words.length;
      words.forEach((n, level) => {
        this.levelAddr[region * MAX_LEVELS + level] = next;
        this.levelWords[region * MAX_LEVELS + level] = n;
        next += n * WORD_BYTES;
      });
      this.unmanagedAddr[region] = next;
      next += words[0]! * WORD_BYTES;
    });
    if (next > metadataAddr + metadataBytes) {
      throw new Error(`pmm-bitmap: metadata layout needs ${next - metadataAddr} bytes`);
    }
  }

  /**
   * Lays the regions out in the block at `addr` and writes an empty allocator there: the block
   * is zeroed (cheap on sparse RAM, where untouched pages already read zero), then only the
   * header, the descriptors and each level's last word (the bits past the end) are written.
   */
  static format(
    memory: PhysicalMemory,
    addr: number,
    bytes: number,
    plans: readonly RegionPlan[],
  ): FrameBitmaps {
    const bitmaps = new FrameBitmaps(memory, addr, bytes, plans);
    memory.fill(addr, 0, bytes);
    writeHeader(memory, bitmaps);
    for (let region = 0; region < plans.length; region++) {
      writeDescriptor(memory, bitmaps, region);
      for (let level = 0; level < bitmaps.levelCount[region]!; level++) {
        const last = bitmaps.levelWords[region * MAX_LEVELS + level]! - 1;
        const tail = bitmaps.tailMask(region, level);
        if (tail !== 0) bitmaps.writeWord(region, level, last, tail);
      }
    }
    return bitmaps;
  }

  // ---- words and counters ----

  /** Bits of the last word of `level` that stand for nothing (past the end): always set. */
  tailMask(region: number, level: number): number {
    const slot = region * MAX_LEVELS + level;
    const valid = level === 0 ? this.frameCount[region]! : this.levelWords[slot - 1]!;
    const validInLast = valid - (this.levelWords[slot]! - 1) * WORD_BITS;
    return validInLast === WORD_BITS ? 0 : ~bitsBelow(validInLast);
  }

  readWord(region: number, level: number, word: number): number {
    return this.memory.read32(this.levelAddr[region * MAX_LEVELS + level]! + word * WORD_BYTES) | 0;
  }

  writeWord(region: number, level: number, word: number, value: number): void {
    this.memory.write32(
      this.levelAddr[region * MAX_LEVELS + level]! + word * WORD_BYTES,
      value >>> 0,
    );
  }

  readUnmanagedWord(region: number, word: number): number {
    return this.memory.read32(this.unmanagedAddr[region]! + word * WORD_BYTES) | 0;
  }

  private writeUnmanagedWord(region: number, word: number, value: number): void {
    this.memory.write32(this.unmanagedAddr[region]! + word * WORD_BYTES, value >>> 0);
  }

  /** Free frames of a region (the mirror of its descriptor field). */
  freeFrames(region: number): number {
    return this.freeCount[region]!;
  }

  addFreeFrames(region: number, delta: number): void {
    const frames = this.freeCount[region]! + delta;
    this.freeCount[region] = frames;
    this.memory.write32(this.descriptorAddr[region]! + DESC_FREE_FRAMES, frames);
  }

  /** Where the region's next single-frame search starts. */
  nextFit(region: number): number {
    return this.nextFitIndex[region]!;
  }

  setNextFit(region: number, index: number): void {
    this.nextFitIndex[region] = index;
    this.memory.write32(this.descriptorAddr[region]! + DESC_NEXT_FIT, index);
  }

  /** Frames of the region that are not managed (metadata, reserved). */
  unmanagedFrames(region: number): number {
    return this.unmanagedCount[region]!;
  }

  addUnmanagedFrames(region: number, delta: number): void {
    const frames = this.unmanagedCount[region]! + delta;
    this.unmanagedCount[region] = frames;
    this.memory.write32(this.descriptorAddr[region]! + DESC_UNMANAGED_FRAMES, frames);
  }

  /** Region holding absolute frame `frame`, or -1 (binary search over the sorted regions). */
  regionOfFrame(frame: number): number {
    let low = 0;
    let high = this.regionCount - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const base = this.baseFrame[mid]!;
      if (frame < base) high = mid - 1;
      else if (frame >= base + this.frameCount[mid]!) low = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** First region whose end lies above absolute frame `frame` (regionCount if none). */
  firstRegionEndingAbove(frame: number): number {
    let low = 0;
    let high = this.regionCount;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.baseFrame[mid]! + this.frameCount[mid]! <= frame) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  // ---- searching ----

  /**
   * First free frame at or after `from`, or -1. Walks up the levels while the current word has
   * no clear bit at or after the position, then down taking the lowest clear bit: a successor
   * query in O(levels) reads however full the region is.
   */
  nextFree(region: number, from: number): number {
    if (from >= this.frameCount[region]!) return -1;
    const slot = region * MAX_LEVELS;
    const top = this.levelCount[region]! - 1;
    let level = 0;
    let position = from;
    for (;;) {
      const word = position >>> WORD_SHIFT;
      if (word >= this.levelWords[slot + level]!) return -1;
      const bits = this.readWord(region, level, word) | bitsBelow(position & (WORD_BITS - 1));
      if (bits !== FULL_WORD) {
        position = (word << WORD_SHIFT) + lowestClearBit(bits);
        break;
      }
      if (level === top) return -1;
      position = word + 1;
      level++;
    }
    while (level > 0) {
      level--;
      const bit = lowestClearBit(this.readWord(region, level, position));
      if (bit < 0) this.corrupt(region, level, position, "is full but its summary bit is clear");
      position = (position << WORD_SHIFT) + bit;
    }
    return position;
  }

  /** First frame in `[from, to)` whose level 0 bit is set (taken), or -1. */
  firstTaken(region: number, from: number, to: number): number {
    for (let index = from; index < to;) {
      const shift = index & (WORD_BITS - 1);
      const span = Math.min(WORD_BITS - shift, to - index);
      const word = index >>> WORD_SHIFT;
      const taken = this.readWord(region, 0, word) & bitRangeMask(shift, span);
      if (taken !== 0) return (word << WORD_SHIFT) + lowestSetBit(taken);
      index += span;
    }
    return -1;
  }

  /**
   * First frame in `[from, to)` that cannot be freed: free already, or not managed. -1 when
   * every frame there is allocated.
   */
  firstNotAllocated(region: number, from: number, to: number): number {
    for (let index = from; index < to;) {
      const shift = index & (WORD_BITS - 1);
      const span = Math.min(WORD_BITS - shift, to - index);
      const word = index >>> WORD_SHIFT;
      const allocated = this.readWord(region, 0, word) & ~this.unmanagedBits(region, word);
      const bad = ~allocated & bitRangeMask(shift, span);
      if (bad !== 0) return (word << WORD_SHIFT) + lowestSetBit(bad);
      index += span;
    }
    return -1;
  }

  /** First frame in `[from, to)` that is allocated (taken and managed), or -1. */
  firstAllocated(region: number, from: number, to: number): number {
    for (let index = from; index < to;) {
      const shift = index & (WORD_BITS - 1);
      const span = Math.min(WORD_BITS - shift, to - index);
      const word = index >>> WORD_SHIFT;
      const allocated = this.readWord(region, 0, word) & ~this.unmanagedBits(region, word);
      const hit = allocated & bitRangeMask(shift, span);
      if (hit !== 0) return (word << WORD_SHIFT) + lowestSetBit(hit);
      index += span;
    }
    return -1;
  }

  isUnmanaged(region: number, index: number): boolean {
    const word = this.unmanagedBits(region, index >>> WORD_SHIFT);
    return (word & (1 << (index & (WORD_BITS - 1)))) !== 0;
  }

  /** The unmanaged word, skipping the read in the usual region that has none. */
  private unmanagedBits(region: number, word: number): number {
    return this.unmanagedCount[region] === 0 ? 0 : this.readUnmanagedWord(region, word);
  }

  // ---- changing bits ----

  /** Sets the level 0 bit of frame `index` (clear before): `take` for one frame. */
  takeOne(region: number, index: number): void {
    const word = index >>> WORD_SHIFT;
    const old = this.readWord(region, 0, word);
    const now = old | (1 << (index & (WORD_BITS - 1)));
    this.writeWord(region, 0, word, now);
    if (now === FULL_WORD) this.markFull(region, 1, word);
  }

  /**
   * Clears the level 0 bit of frame `index` if it is allocated and returns true; returns false,
   * changing nothing, when it is free or not managed. One read of the word does both.
   */
  releaseOne(region: number, index: number): boolean {
    const word = index >>> WORD_SHIFT;
    const bit = 1 << (index & (WORD_BITS - 1));
    const old = this.readWord(region, 0, word);
    if ((old & bit) === 0 || (this.unmanagedBits(region, word) & bit) !== 0) return false;
    this.writeWord(region, 0, word, old & ~bit);
    if (old === FULL_WORD) this.markNotFull(region, 1, word);
    return true;
  }

  /** Sets the level 0 bits of `[from, to)` (all clear before), keeping the summaries right. */
  take(region: number, from: number, to: number): void {
    for (let index = from; index < to;) {
      const shift = index & (WORD_BITS - 1);
      const span = Math.min(WORD_BITS - shift, to - index);
      const word = index >>> WORD_SHIFT;
      const old = this.readWord(region, 0, word);
      const now = old | bitRangeMask(shift, span);
      this.writeWord(region, 0, word, now);
      if (now === FULL_WORD && old !== FULL_WORD) this.markFull(region, 1, word);
      index += span;
    }
  }

  /** Clears the level 0 bits of `[from, to)` (all set before), keeping the summaries right. */
  release(region: number, from: number, to: number): void {
    for (let index = from; index < to;) {
      const shift = index & (WORD_BITS - 1);
      const span = Math.min(WORD_BITS - shift, to - index);
      const word = index >>> WORD_SHIFT;
      const old = this.readWord(region, 0, word);
      this.writeWord(region, 0, word, old & ~bitRangeMask(shift, span));
      if (old === FULL_WORD) this.markNotFull(region, 1, word);
      index += span;
    }
  }

  /**
   * Takes the free frames of `[from, to)` out of management: their level 0 and unmanaged bits
   * are set. Frames already taken are left as they are. Returns how many frames it took.
   */
  takeUnmanaged(region: number, from: number, to: number): number {
    let taken = 0;
    for (let index = from; index < to;) {
      const shift = index & (WORD_BITS - 1);
      const span = Math.min(WORD_BITS - shift, to - index);
      const word = index >>> WORD_SHIFT;
      const old = this.readWord(region, 0, word);
      const free = ~old & bitRangeMask(shift, span);
      if (free !== 0) {
        const now = old | free;
        this.writeWord(region, 0, word, now);
        this.writeUnmanagedWord(region, word, this.readUnmanagedWord(region, word) | free);
        if (now === FULL_WORD) this.markFull(region, 1, word);
        taken += popcount32(free);
      }
      index += span;
    }
    return taken;
  }

  /** Word `word` of level `level - 1` became full: sets its bit at `level`, and so on up. */
  private markFull(region: number, level: number, word: number): void {
    const levels = this.levelCount[region]!;
    let child = word;
    for (let at = level; at < levels; at++) {
      const index = child >>> WORD_SHIFT;
      const old = this.readWord(region, at, index);
      const now = old | (1 << (child & (WORD_BITS - 1)));
      this.writeWord(region, at, index, now);
      if (now !== FULL_WORD) return;
      child = index;
    }
  }

  /** Word `word` of level `level - 1` has a clear bit again: clears its bit, and so on up. */
  private markNotFull(region: number, level: number, word: number): void {
    const levels = this.levelCount[region]!;
    let child = word;
    for (let at = level; at < levels; at++) {
      const index = child >>> WORD_SHIFT;
      const old = this.readWord(region, at, index);
      this.writeWord(region, at, index, old & ~(1 << (child & (WORD_BITS - 1))));
      if (old !== FULL_WORD) return;
      child = index;
    }
  }

  corrupt(region: number, level: number, word: number, what: string): never {
    const addr = this.levelAddr[region * MAX_LEVELS + level]! + word * WORD_BYTES;
    throw new AllocatorError(
      "ECORRUPT",
      `pmm-bitmap region ${region} (frames from ${hex(this.baseFrame[region]! * PAGE_SIZE)}): ` +
        `level ${level} word ${word} at ${hex(addr)} ${what}`,
      addr,
    );
  }
}
