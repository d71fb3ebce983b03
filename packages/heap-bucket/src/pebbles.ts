import { alignUp } from "@allockit/core";
import { fileFree, unfileFree } from "./free-index.js";
import type { Memory } from "@allockit/core";
import {
  BK_BITMAP,
  BK_FIRST,
  BK_FREE_COUNT,
  BK_LARGEST,
  BK_PEBBLE_COUNT,
  FREE_TAG,
  GRANULE,
  MIN_SPLIT,
  PEBBLE_HEADER_BYTES,
  PEBBLE_MAGIC,
  PB_ALIGN,
  PB_FLAGS,
  PB_FREE_NEXT,
  PB_FREE_PREV,
  PB_MAGIC,
  PB_NAME,
  PB_NEXT,
  PB_PARENT,
  PB_PREV,
  PB_REQUESTED,
  PB_SIZE,
  PB_STATE,
  USED_TAG,
  read64,
  write64,
} from "./layout.js";

/**
 * Pebbles inside one bucket: placing a request in a free pebble, splitting it (into up to three:
 * a free pad pebble, the used pebble whose header sits just before the aligned data, a free
 * remainder), and freeing with merges. Every function works on simulated memory only: the
 * pebble chain, the free-pebble index (`ix`, see free-index.ts), the bucket's counters and its
 * pebble-start bitmap.
 */

/**
 * Where the data of a `need`-byte pebble aligned to `align` would start inside free pebble `f`
 * of data size `size`, or 0 when it does not fit. A leading gap becomes a pad pebble, so it is
 * either empty or holds a header and at least 64 data bytes.
 */
export function placeIn(f: number, size: number, need: number, align: number): number {
  if (size < need) return 0;
  const first = f + PEBBLE_HEADER_BYTES;
  let data = first;
  if (align > GRANULE) {
    data = alignUp(first, align);
    if (data !== first && data - first < MIN_SPLIT) data += align;
  }
  return data + need <= first + size ? data : 0;
}

/** Sets or clears the bitmap bit of the pebble header at `p`. */
export function markPebbleStart(memory: Memory, bucket: number, p: number, on: boolean): void {
  const granule = (p - bucket) / GRANULE;
  const byteAddr = bucket + BK_BITMAP + Math.floor(granule / 8);
  const bit = 1 << (granule % 8);
  const bits = memory.read8(byteAddr);
  memory.write8(byteAddr, on ? bits | bit : bits & ~bit);
}

/** True when the bitmap says a pebble header starts at `p` (p a granule of the bucket). */
export function isPebbleStart(memory: Memory, bucket: number, p: number): boolean {
  const granule = (p - bucket) / GRANULE;
  return (memory.read8(bucket + BK_BITMAP + Math.floor(granule / 8)) & (1 << (granule % 8))) !== 0;
}

/** Writes the header of a free pebble (not yet linked anywhere). */
export function writeFreeHeader(
  memory: Memory,
  bucket: number,
  p: number,
  size: number,
  kind: number,
): void {
  memory.write32(p + PB_MAGIC, PEBBLE_MAGIC);
  memory.write32(p + PB_FLAGS, kind);
  memory.write32(p + PB_STATE, FREE_TAG);
  memory.write32(p + PB_SIZE, size);
  memory.write32(p + PB_REQUESTED, 0);
  memory.write32(p + PB_ALIGN, GRANULE);
  write64(memory, p + PB_PARENT, bucket);
  memory.write32(p + PB_NAME, 0);
}

/** Links the pebble header at `p` into the chain right after `before`, and marks it. */
function linkAfter(memory: Memory, bucket: number, before: number, p: number): void {
  const after = read64(memory, before + PB_NEXT);
  write64(memory, p + PB_PREV, before);
  write64(memory, p + PB_NEXT, after);
  write64(memory, before + PB_NEXT, p);
  if (after !== 0) write64(memory, after + PB_PREV, p);
  markPebbleStart(memory, bucket, p, true);
}

/** Takes the pebble `gone` (which follows `keep` in the chain) out of the chain and bitmap. */
function unlinkNext(memory: Memory, bucket: number, keep: number, gone: number): void {
  const after = read64(memory, gone + PB_NEXT);
  write64(memory, keep + PB_NEXT, after);
  if (after !== 0) write64(memory, after + PB_PREV, keep);
  markPebbleStart(memory, bucket, gone, false);
  memory.write32(gone + PB_MAGIC, 0);
}

/** Adds `pebbles` and `free` to the bucket's pebble and free-pebble counts. */
function count(memory: Memory, bucket: number, pebbles: number, free: number): void {
  if (pebbles !== 0)
    memory.write32(bucket + BK_PEBBLE_COUNT, memory.read32(bucket + BK_PEBBLE_COUNT) + pebbles);
  if (free !== 0)
    memory.write32(bucket + BK_FREE_COUNT, memory.read32(bucket + BK_FREE_COUNT) + free);
}

/** Recomputes the bucket's largest free pebble by walking its pebble chain. */
export function recomputeLargest(memory: Memory, bucket: number): void {
  let largest = 0;
  for (let p = read64(memory, bucket + BK_FIRST); p !== 0; p = read64(memory, p + PB_NEXT)) {
    if (memory.read32(p + PB_STATE) === FREE_TAG) {
      const size = memory.read32(p + PB_SIZE);
      if (size > largest) largest = size;
    }
  }
  memory.write32(bucket + BK_LARGEST, largest);
}

/**
 * After a free pebble of `gone` bytes stopped being free (or shrank) and pieces of `known`
 * bytes (0 for none) became free: keeps the bucket's largest free pebble exact. Only when the
 * largest went, and other free pebbles may be larger than what is known, is the chain walked.
 */
function largestAfterShrink(
  memory: Memory,
  bucket: number,
  gone: number,
  known: number,
  knownPieces: number,
): void {
  if (gone !== memory.read32(bucket + BK_LARGEST)) return;
  if (memory.read32(bucket + BK_FREE_COUNT) === knownPieces)
    memory.write32(bucket + BK_LARGEST, known);
  else recomputeLargest(memory, bucket);
}

/**
 * Turns free pebble `f` (data size `freeSize`, filed in the index) into a used pebble of at
 * least `need` data bytes starting at `data` (from `placeIn`): a leading gap stays behind as
 * the free pad pebble `f`, a tail of at least a header and 64 bytes becomes a free remainder, a
 * smaller tail is absorbed. Returns the used pebble's header (`data` - 128) with its state and
 * size set; its flags are the bucket's kind, its alignment 64, its name empty, and the caller
 * fills in the rest.
 */
export function carve(
  memory: Memory,
  ix: number,
  bucket: number,
  f: number,
  freeSize: number,
  data: number,
  need: number,
  kind: number,
): number {
  const end = f + PEBBLE_HEADER_BYTES + freeSize;
  const p = data - PEBBLE_HEADER_BYTES;
  let pebbles = 0;
  let free = 0;
  let known = 0;
  let pieces = 0;
  if (p !== f) {
    // f keeps the gap as the pad pebble and stays free, refiled by its new size.
    const pad = p - f - PEBBLE_HEADER_BYTES;
    unfileFree(memory, ix, f, freeSize, false);
    memory.write32(f + PB_SIZE, pad);
    fileFree(memory, ix, f, pad);
    memory.write32(p + PB_MAGIC, PEBBLE_MAGIC);
    memory.write32(p + PB_FLAGS, kind);
    memory.write32(p + PB_ALIGN, GRANULE);
    memory.write32(p + PB_NAME, 0);
    write64(memory, p + PB_PARENT, bucket);
    write64(memory, p + PB_FREE_NEXT, 0);
    write64(memory, p + PB_FREE_PREV, 0);
    linkAfter(memory, bucket, f, p);
    pebbles++;
    known = pad;
    pieces = 1;
  } else {
    unfileFree(memory, ix, f, freeSize, true);
    free--;
  }
  const size = end - data;
  if (size - need >= MIN_SPLIT) {
    const rest = data + need;
    const restSize = size - need - PEBBLE_HEADER_BYTES;
    writeFreeHeader(memory, bucket, rest, restSize, kind);
    linkAfter(memory, bucket, p, rest);
    fileFree(memory, ix, rest, restSize);
    pebbles++;
    free++;
    if (restSize > known) known = restSize;
    pieces++;
    memory.write32(p + PB_SIZE, need);
  } else if (p !== f) {
    memory.write32(p + PB_SIZE, size);
  }
  memory.write32(p + PB_STATE, USED_TAG);
  count(memory, bucket, pebbles, free);
  largestAfterShrink(memory, bucket, freeSize, known, pieces);
  return p;
}

/**
 * Frees used pebble `p` of data size `size`: marks it free (flags back to the bucket's kind,
 * name cleared), merges it with a free next and a free previous neighbour and files the result
 * in the index. Returns the bucket's pebble count afterwards.
 */
export function release(
  memory: Memory,
  ix: number,
  bucket: number,
  p: number,
  size: number,
  kind: number,
): number {
  memory.write32(p + PB_STATE, FREE_TAG);
  memory.write32(p + PB_FLAGS, kind);
  memory.write32(p + PB_REQUESTED, 0);
  memory.write32(p + PB_ALIGN, GRANULE);
  memory.write32(p + PB_NAME, 0);
  let pebbles = 0;
  let free = 1;
  const next = read64(memory, p + PB_NEXT);
  if (next !== 0 && memory.read32(next + PB_STATE) === FREE_TAG) {
    const nextSize = memory.read32(next + PB_SIZE);
    unfileFree(memory, ix, next, nextSize, false);
    size += PEBBLE_HEADER_BYTES + nextSize;
    unlinkNext(memory, bucket, p, next);
    pebbles--;
    free--;
  }
  let merged = p;
  const prev = read64(memory, p + PB_PREV);
  if (prev !== 0 && memory.read32(prev + PB_STATE) === FREE_TAG) {
    const prevSize = memory.read32(prev + PB_SIZE);
    unfileFree(memory, ix, prev, prevSize, false);
    size += PEBBLE_HEADER_BYTES + prevSize;
    unlinkNext(memory, bucket, prev, p);
    pebbles--;
    free--;
    merged = prev;
  }
  memory.write32(merged + PB_SIZE, size);
  fileFree(memory, ix, merged, size);
  const total = memory.read32(bucket + BK_PEBBLE_COUNT) + pebbles;
  if (pebbles !== 0) memory.write32(bucket + BK_PEBBLE_COUNT, total);
  if (free !== 0)
    memory.write32(bucket + BK_FREE_COUNT, memory.read32(bucket + BK_FREE_COUNT) + free);
  if (size > memory.read32(bucket + BK_LARGEST)) memory.write32(bucket + BK_LARGEST, size);
  return total;
}

/**
 * Resizes used pebble `p` in place to hold `need` data bytes: shrinking splits off a free tail
 * (merged with a free next neighbour), growing absorbs a free next neighbour when it is large
 * enough. Returns false, changing nothing, when the pebble cannot grow in place.
 */
export function resizeInPlace(
  memory: Memory,
  ix: number,
  bucket: number,
  p: number,
  need: number,
  kind: number,
): boolean {
  let size = memory.read32(p + PB_SIZE);
  if (need > size) {
    const next = read64(memory, p + PB_NEXT);
    if (next === 0 || memory.read32(next + PB_STATE) !== FREE_TAG) return false;
    const nextSize = memory.read32(next + PB_SIZE);
    if (size + PEBBLE_HEADER_BYTES + nextSize < need) return false;
    unfileFree(memory, ix, next, nextSize, false);
    unlinkNext(memory, bucket, p, next);
    count(memory, bucket, -1, -1);
    size += PEBBLE_HEADER_BYTES + nextSize;
    memory.write32(p + PB_SIZE, size);
    largestAfterShrink(memory, bucket, nextSize, 0, 0);
  }
  if (size - need >= MIN_SPLIT) {
    // The tail becomes a pebble of its own and is freed, which merges it with a free neighbour.
    const tail = p + PEBBLE_HEADER_BYTES + need;
    memory.write32(p + PB_SIZE, need);
    memory.write32(tail + PB_MAGIC, PEBBLE_MAGIC);
    memory.write32(tail + PB_STATE, USED_TAG);
    write64(memory, tail + PB_PARENT, bucket);
    write64(memory, tail + PB_FREE_NEXT, 0);
    write64(memory, tail + PB_FREE_PREV, 0);
    linkAfter(memory, bucket, p, tail);
    count(memory, bucket, 1, 0);
    release(memory, ix, bucket, tail, size - need - PEBBLE_HEADER_BYTES, kind);
  }
  return true;
}
