import type { Memory } from "@allockit/core";
import {
  BIN_COUNT,
  EXACT_BINS,
  GRANULE,
  IX_BITMAP,
  IX_BITMAP_WORDS,
  IX_HEADS,
  PB_FREE_NEXT,
  PB_FREE_PREV,
  read64,
  write64,
} from "./layout.js";

/**
 * The free-pebble index: every free pebble of every bucket is filed in one size bin, a doubly
 * linked list threaded through the free-link fields of the pebble headers (PB_FREE_NEXT /
 * PB_FREE_PREV), newest first. Bins 0 .. 63 hold exactly one size each (64, 128, .. 4096 data
 * bytes); above 4096 each power of two is split in four (TLSF-style), up to 2^32. The bin heads
 * and a bitmap of the non-empty bins live in the data of a used pebble at the end of the first
 * bucket (see layout.ts), so finding the smallest non-empty bin that can hold a request takes a
 * few word reads instead of a walk over the buckets.
 *
 * `ix` is the address of that table everywhere below.
 */

/** The bin of a free pebble of `size` data bytes (a multiple of 64, at least 64). */
export function binOf(size: number): number {
  if (size <= EXACT_BINS * GRANULE) return size / GRANULE - 1;
  const log = 31 - Math.clz32(size);
  return EXACT_BINS + (log - 12) * 4 + ((size >>> (log - 2)) & 3);
}

/** The first non-empty bin at or after `from`, or -1. */
export function nextBin(memory: Memory, ix: number, from: number): number {
  if (from >= BIN_COUNT) return -1;
  let word = from >>> 5;
  let bits = memory.read32(ix + IX_BITMAP + word * 4) & (-1 << (from & 31));
  for (;;) {
    if (bits !== 0) return word * 32 + 31 - Math.clz32(bits & -bits);
    if (++word === IX_BITMAP_WORDS) return -1;
    bits = memory.read32(ix + IX_BITMAP + word * 4);
  }
}

/** The first pebble of bin `bin` (0 when empty). */
export function binHead(memory: Memory, ix: number, bin: number): number {
  return read64(memory, ix + IX_HEADS + bin * 8);
}

function setBit(memory: Memory, ix: number, bin: number, on: boolean): void {
  const addr = ix + IX_BITMAP + (bin >>> 5) * 4;
  const bit = 1 << (bin & 31);
  const bits = memory.read32(addr);
  memory.write32(addr, on ? bits | bit : bits & ~bit);
}

/** Files free pebble `p` of data size `size` at the head of its bin. */
export function fileFree(memory: Memory, ix: number, p: number, size: number): void {
  const bin = binOf(size);
  const headAddr = ix + IX_HEADS + bin * 8;
  const head = read64(memory, headAddr);
  write64(memory, p + PB_FREE_NEXT, head);
  write64(memory, p + PB_FREE_PREV, 0);
  if (head !== 0) write64(memory, head + PB_FREE_PREV, p);
  else setBit(memory, ix, bin, true);
  write64(memory, headAddr, p);
}

/**
 * Takes free pebble `p` of data size `size` out of its bin. With `clear`, its links are zeroed
 * (it is about to be used); without, they are left (it is about to be merged away or refiled).
 */
export function unfileFree(
  memory: Memory,
  ix: number,
  p: number,
  size: number,
  clear: boolean,
): void {
  const next = read64(memory, p + PB_FREE_NEXT);
  const prev = read64(memory, p + PB_FREE_PREV);
  if (prev === 0) {
    const bin = binOf(size);
    write64(memory, ix + IX_HEADS + bin * 8, next);
    if (next === 0) setBit(memory, ix, bin, false);
  } else {
    write64(memory, prev + PB_FREE_NEXT, next);
  }
  if (next !== 0) write64(memory, next + PB_FREE_PREV, prev);
  if (clear) {
    if (next !== 0) write64(memory, p + PB_FREE_NEXT, 0);
    if (prev !== 0) write64(memory, p + PB_FREE_PREV, 0);
  }
}
