/**
 * Block contents. Every tracked block is filled with a window of one pseudo-random byte table;
 * the window's start depends on the block's id and how often it was rewritten, so neighbouring
 * blocks hold different bytes and a byte copied from the wrong place or a header written over
 * user data shows up as a mismatch. Windows start at multiples of 4 so comparisons can run a
 * 32-bit word at a time.
 */

/** Number of distinct window starts (bytes); a power of two. */
const WINDOW_STARTS = 1 << 16;

let table = buildTable(WINDOW_STARTS + 4 * 4096);

function buildTable(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  // xorshift32 with a fixed seed: the same bytes every run, so failures replay exactly.
  let state = 0x2545f491;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** Offset into the pattern table of a block's contents. */
export function patternOffset(blockId: number, generation: number): number {
  let h = Math.imul(blockId + 1, 0x9e3779b1) ^ Math.imul(generation + 1, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h & (WINDOW_STARTS - 1) & ~3;
}

/** The `length` pattern bytes starting at `offset` (a view; do not modify). */
export function patternBytes(offset: number, length: number): Uint8Array {
  if (offset + length > table.length) table = buildTable(WINDOW_STARTS + length);
  return table.subarray(offset, offset + length);
}

/** Index of the first byte where `actual` and `expected` differ, or -1 when they are equal. */
export function firstMismatch(actual: Uint8Array, expected: Uint8Array): number {
  const length = expected.length;
  let i = 0;
  if (actual.byteOffset % 4 === 0 && expected.byteOffset % 4 === 0 && length >= 16) {
    const words = length >>> 2;
    const actualWords = new Uint32Array(actual.buffer, actual.byteOffset, words);
    const expectedWords = new Uint32Array(expected.buffer, expected.byteOffset, words);
    let w = 0;
    while (w < words && actualWords[w] === expectedWords[w]) w++;
    i = w << 2;
  }
  for (; i < length; i++) if (actual[i] !== expected[i]) return i;
  return -1;
}
