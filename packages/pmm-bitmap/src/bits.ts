/**
 * Bit tricks on 32-bit words held as int32 (`| 0`), so that a full word is -1 and every
 * operation stays in V8's small-integer fast path.
 */

/** A word with every bit set: a bitmap word whose 32 frames are all taken. */
export const FULL_WORD = -1;

/** Bits per bitmap word, and its log2 for shifts. */
export const WORD_BITS = 32;
export const WORD_SHIFT = 5;
export const WORD_BYTES = 4;

/** Index (0-31) of the lowest clear bit of `word`, or -1 when it is full. */
export function lowestClearBit(word: number): number {
  // ~w & (w + 1) isolates the lowest zero bit as a one; clz32 turns it into an index.
  return 31 - Math.clz32(~word & (word + 1));
}

/** Index (0-31) of the lowest set bit of `word`, or -1 when it is zero. */
export function lowestSetBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/** Number of set bits in a 32-bit word (SWAR popcount). */
export function popcount32(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Mask of `count` bits (1-32) starting at bit `shift` (0-31), as int32. */
export function bitRangeMask(shift: number, count: number): number {
  return count >= WORD_BITS ? FULL_WORD : (((1 << count) - 1) << shift) | 0;
}

/** Mask of the bits below `bit` (0-31): the ones a search starting at `bit` must skip. */
export function bitsBelow(bit: number): number {
  return (1 << bit) - 1;
}
