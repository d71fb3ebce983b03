import type { PhysicalMemory } from "@allockit/core";
import type { RegionTable } from "./region-table.js";

/**
 * A copy of every region's bitmaps, read out of RAM in one go, so `check()` can count and
 * search millions of bits without one memory access per word. Bit i of a bitmap is bit `i & 7`
 * of byte `i >>> 3` (the same bit as in its little-endian 32-bit word). Whole 32-bit words are
 * only counted or tested for zero, which does not depend on the host's byte order; positions
 * are always resolved byte-wise.
 */
export class MetadataSnapshot {
  private readonly bytes: Uint8Array[] = [];
  private readonly words: Uint32Array[] = [];

  constructor(
    private readonly regions: RegionTable,
    memory: PhysicalMemory,
  ) {
    for (let r = 0; r < regions.count; r++) {
      // Every bitmap is whole words, so the block is too.
      const bytes = memory.readBytes(regions.metadataAddress[r]!, regions.metadataBytes[r]!);
      this.bytes.push(bytes);
      this.words.push(new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2));
    }
  }

  /** Bit `bit` of the bitmap at address `bitmap` of region `r`. */
  test(r: number, bitmap: number, bit: number): boolean {
    const at = bitmap - this.regions.metadataAddress[r]! + (bit >>> 3);
    return ((this.bytes[r]![at]! >>> (bit & 7)) & 1) !== 0;
  }

  /** Set bits in `[from, to)`. */
  count(r: number, bitmap: number, from: number, to: number): number {
    const words = this.words[r]!;
    const firstWord = (bitmap - this.regions.metadataAddress[r]!) >>> 2;
    let bits = 0;
    let bit = from;
    for (; bit < to && (bit & 31) !== 0; bit++) if (this.test(r, bitmap, bit)) bits++;
    for (; bit + 32 <= to; bit += 32) bits += popcount(words[firstWord + (bit >>> 5)]!);
    for (; bit < to; bit++) if (this.test(r, bitmap, bit)) bits++;
    return bits;
  }

  /** First set bit in `[from, to)`, or -1. */
  findSet(r: number, bitmap: number, from: number, to: number): number {
    return this.findIn(r, bitmap, bitmap, from, to);
  }

  /** First bit in `[from, to)` set in both bitmaps, or -1. */
  findCommon(r: number, bitmapA: number, bitmapB: number, from: number, to: number): number {
    return this.findIn(r, bitmapA, bitmapB, from, to);
  }

  private findIn(r: number, bitmapA: number, bitmapB: number, from: number, to: number): number {
    const words = this.words[r]!;
    const wordA = (bitmapA - this.regions.metadataAddress[r]!) >>> 2;
    const wordB = (bitmapB - this.regions.metadataAddress[r]!) >>> 2;
    let bit = from;
    while (bit < to) {
      // Skip whole words with nothing in common, then resolve bit by bit.
      if ((bit & 31) === 0 && bit + 32 <= to) {
        const w = bit >>> 5;
        if ((words[wordA + w]! & words[wordB + w]!) === 0) {
          bit += 32;
          continue;
        }
      }
      if (this.test(r, bitmapA, bit) && this.test(r, bitmapB, bit)) return bit;
      bit++;
    }
    return -1;
  }
}

function popcount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
