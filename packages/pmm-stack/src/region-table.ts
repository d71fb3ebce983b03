import type { PhysicalMemory } from "@allockit/core";
import { FRAME_NUMBER_BYTES, readFrameNumber, writeFrameNumber } from "./frame-number.js";

/**
 * The region table: one descriptor per piece of managed RAM, each inside one zone, sorted by
 * base, kept in simulated RAM. A descriptor is four frame-sized fields:
 *
 *   base       first frame of the region
 *   end        first frame past it
 *   watermark  frames in [watermark, end) were never handed out and are on no stack: the lazy
 *              fill hands them out from here upward, so init touches none of them
 *   bitBase    bitmap bit of the frame `base`; the region's frames take the bits that follow
 */
export const DESCRIPTOR_BYTES = 4 * FRAME_NUMBER_BYTES;
const BASE_OFFSET = 0;
const END_OFFSET = 8;
const WATERMARK_OFFSET = 16;
const BIT_BASE_OFFSET = 24;
/** Hints kept by `bitOf`: one per zone. */
export const HINT_SLOTS = 3;

export class RegionTable {
  /** Descriptors in use. */
  count = 0;
  /** Descriptors that fit in the table's memory. */
  readonly capacity: number;
  // Per hint slot (callers use the frame's zone), the region `bitOf` found last: a run of frees
  // and allocations in one region then does not search the table every time.
  private readonly hintBase = new Float64Array(HINT_SLOTS);
  private readonly hintEnd = new Float64Array(HINT_SLOTS);
  private readonly hintBitBase = new Float64Array(HINT_SLOTS);

  constructor(
    private readonly memory: PhysicalMemory,
    /** Physical address of descriptor 0. */
    readonly address: number,
    sizeBytes: number,
  ) {
    this.capacity = Math.floor(sizeBytes / DESCRIPTOR_BYTES);
  }

  base(index: number): number {
    return readFrameNumber(this.memory, this.fieldAddress(index, BASE_OFFSET));
  }

  end(index: number): number {
    return readFrameNumber(this.memory, this.fieldAddress(index, END_OFFSET));
  }

  watermark(index: number): number {
    return readFrameNumber(this.memory, this.fieldAddress(index, WATERMARK_OFFSET));
  }

  bitBase(index: number): number {
    return readFrameNumber(this.memory, this.fieldAddress(index, BIT_BASE_OFFSET));
  }

  setWatermark(index: number, frame: number): void {
    writeFrameNumber(this.memory, this.fieldAddress(index, WATERMARK_OFFSET), frame);
  }

  write(index: number, base: number, end: number, watermark: number, bitBase: number): void {
    writeFrameNumber(this.memory, this.fieldAddress(index, BASE_OFFSET), base);
    writeFrameNumber(this.memory, this.fieldAddress(index, END_OFFSET), end);
    writeFrameNumber(this.memory, this.fieldAddress(index, WATERMARK_OFFSET), watermark);
    writeFrameNumber(this.memory, this.fieldAddress(index, BIT_BASE_OFFSET), bitBase);
    this.forgetHint();
  }

  /** Opens a slot at `index`, moving the descriptors from there up by one. */
  insertAt(index: number): void {
    const from = this.fieldAddress(index, 0);
    this.memory.copy(from + DESCRIPTOR_BYTES, from, (this.count - index) * DESCRIPTOR_BYTES);
    this.count++;
    this.forgetHint();
  }

  /** Drops the descriptor at `index`, moving the ones above it down. */
  removeAt(index: number): void {
    const to = this.fieldAddress(index, 0);
    this.memory.copy(to, to + DESCRIPTOR_BYTES, (this.count - index - 1) * DESCRIPTOR_BYTES);
    this.count--;
    this.forgetHint();
  }

  /** Bitmap bit of a managed frame, or -1 when no region holds it. `hintSlot` < HINT_SLOTS. */
  bitOf(frame: number, hintSlot: number): number {
    const hintBase = this.hintBase[hintSlot]!;
    if (frame >= hintBase && frame < this.hintEnd[hintSlot]!) {
      return this.hintBitBase[hintSlot]! + (frame - hintBase);
    }
    const index = this.indexOf(frame);
    if (index < 0) return -1;
    const base = this.base(index);
    const bitBase = this.bitBase(index);
    this.hintBase[hintSlot] = base;
    this.hintEnd[hintSlot] = this.end(index);
    this.hintBitBase[hintSlot] = bitBase;
    return bitBase + (frame - base);
  }

  /** Index of the region holding `frame`, or -1 (binary search over the sorted table). */
  indexOf(frame: number): number {
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (frame < this.base(middle)) high = middle - 1;
      else if (frame >= this.end(middle)) low = middle + 1;
      else return middle;
    }
    return -1;
  }

  /** Index of the first region ending after `frame` (this.count when none does). */
  firstEndingAfter(frame: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.end(middle) <= frame) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  forgetHint(): void {
    this.hintEnd.fill(0);
  }

  private fieldAddress(index: number, offset: number): number {
    return this.address + index * DESCRIPTOR_BYTES + offset;
  }
}
