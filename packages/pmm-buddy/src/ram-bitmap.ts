import type { PhysicalMemory } from "@allockit/core";

/**
 * Bitmaps in simulated RAM: little-endian 32-bit words from `base`, bit `i` in word `i >>> 5`
 * at position `i & 31`. Bit indices are below 2^31 (regions are capped to keep them so), so
 * the index math stays in 32-bit integers.
 */

const WORD_BYTES = 4;

/** Bytes taken by a bitmap of `bits` bits, in whole words. */
export function bitmapBytes(bits: number): number {
  return Math.ceil(bits / 32) * WORD_BYTES;
}

/** Index of the lowest set bit of a non-zero 32-bit word. */
export function lowestSetBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

export function testBit(memory: PhysicalMemory, base: number, bit: number): boolean {
  return ((memory.read32(base + (bit >>> 5) * WORD_BYTES) >>> (bit & 31)) & 1) !== 0;
}

export function setBit(memory: PhysicalMemory, base: number, bit: number): void {
  const at = base + (bit >>> 5) * WORD_BYTES;
  memory.write32(at, memory.read32(at) | (1 << (bit & 31)));
}

export function clearBit(memory: PhysicalMemory, base: number, bit: number): void {
  const at = base + (bit >>> 5) * WORD_BYTES;
  memory.write32(at, memory.read32(at) & ~(1 << (bit & 31)));
}

/** Mask of the bits `[from, to)` of one word, 0 <= from < to <= 32. */
function wordMask(from: number, to: number): number {
  const upTo = to === 32 ? -1 : (1 << to) - 1;
  return (upTo & (-1 << from)) >>> 0;
}

/** Sets (or clears) the bits `[from, to)`, a word at a time. */
export function writeBits(
  memory: PhysicalMemory,
  base: number,
  from: number,
  to: number,
  set: boolean,
): void {
  let bit = from;
  while (bit < to) {
    const word = bit >>> 5;
    const first = bit & 31;
    const last = Math.min(32, to - word * 32);
    const mask = wordMask(first, last);
    const at = base + word * WORD_BYTES;
    const old = memory.read32(at);
    memory.write32(at, set ? old | mask : old & ~mask);
    bit = (word + 1) * 32;
  }
}

/**
 * First bit in `[from, to)` equal to `value`, or -1. Reads a word at a time, so scanning a
 * bitmap costs one read per 32 bits.
 */
export function findBit(
  memory: PhysicalMemory,
  base: number,
  from: number,
  to: number,
  value: boolean,
): number {
  let bit = from;
  while (bit < to) {
    const word = bit >>> 5;
    const raw = memory.read32(base + word * WORD_BYTES);
    const candidates = (value ? raw : ~raw) & (-1 << (bit & 31));
    if (candidates !== 0) {
      const found = word * 32 + lowestSetBit(candidates);
      return found < to ? found : -1;
    }
    bit = (word + 1) * 32;
  }
  return -1;
}

/** First bit in `[from, to)` set in both bitmaps, or -1. */
export function findCommonBit(
  memory: PhysicalMemory,
  baseA: number,
  baseB: number,
  from: number,
  to: number,
): number {
  let bit = from;
  while (bit < to) {
    const word = bit >>> 5;
    const last = Math.min(32, to - word * 32);
    const both =
      memory.read32(baseA + word * WORD_BYTES) &
      memory.read32(baseB + word * WORD_BYTES) &
      wordMask(bit & 31, last);
    if (both !== 0) return word * 32 + lowestSetBit(both);
    bit = (word + 1) * 32;
  }
  return -1;
}

/** Number of set bits in `[from, to)`. */
export function countSetBits(
  memory: PhysicalMemory,
  base: number,
  from: number,
  to: number,
): number {
  let count = 0;
  let bit = from;
  while (bit < to) {
    const word = bit >>> 5;
    const last = Math.min(32, to - word * 32);
    count += popcount(memory.read32(base + word * WORD_BYTES) & wordMask(bit & 31, last));
    bit = (word + 1) * 32;
  }
  return count;
}

function popcount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
