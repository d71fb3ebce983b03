import { alignUp } from "@allockit/core";
import type { Memory } from "@allockit/core";
import {
  BK_BITMAP,
  BK_FREE_COUNT,
  BK_FREE_HEAD,
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
 * pebble chain, the bucket's free list, its counters and its pebble-start bitmap.
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
  memory.write32(bucket + BK_PEBBLE_COUNT, memory.read32(bucket + BK_PEBBLE_COUNT) + 1);
}

/** Takes the pebble `gone` (which follows `keep` in the chain) out of the chain and bitmap. */
function unlinkNext(memory: Memory, bucket: number, keep: number, gone: number): void {
  const after = read64(memory, gone + PB_NEXT);
  write64(memory, keep + PB_NEXT, after);
  if (after !== 0) write64(memory, after + PB_PREV, keep);
  markPebbleStart(memory, bucket, gone, false);
  memory.write32(gone + PB_MAGIC, 0);
  memory.write32(bucket + BK_PEBBLE_COUNT, memory.read32(bucket + BK_PEBBLE_COUNT) - 1);
}

function pushFree(memory: Memory, bucket: number, p: number): void {
  const head = read64(memory, bucket + BK_FREE_HEAD);
  write64(memory, p + PB_FREE_NEXT, head);
  write64(memory, p + PB_FREE_PREV, 0);
  if (head !== 0) write64(memory, head + PB_FREE_PREV, p);
  write64(memory, bucket + BK_FREE_HEAD, p);
  memory.write32(bucket + BK_FREE_COUNT, memory.read32(bucket + BK_FREE_COUNT) + 1);
}

function unlinkFree(memory: Memory, bucket: number, p: number): void {
  const next = read64(memory, p + PB_FREE_NEXT);
  const prev = read64(memory, p + PB_FREE_PREV);
  if (prev === 0) write64(memory, bucket + BK_FREE_HEAD, next);
  else write64(memory, prev + PB_FREE_NEXT, next);
  if (next !== 0) write64(memory, next + PB_FREE_PREV, prev);
  write64(memory, p + PB_FREE_NEXT, 0);
  write64(memory, p + PB_FREE_PREV, 0);
  memory.write32(bucket + BK_FREE_COUNT, memory.read32(bucket + BK_FREE_COUNT) - 1);
}

/** Recomputes the bucket's largest free pebble from its free list. */
function recomputeLargest(memory: Memory, bucket: number): void {
  let largest = 0;
  for (
    let f = read64(memory, bucket + BK_FREE_HEAD);
    f !== 0;
    f = read64(memory, f + PB_FREE_NEXT)
  ) {
    const size = memory.read32(f + PB_SIZE);
    if (size > largest) largest = size;
  }
  memory.write32(bucket + BK_LARGEST, largest);
}

/**
 * Turns free pebble `f` into a used pebble of at least `need` data bytes starting at `data`
 * (from `placeIn`): a leading gap stays behind as the free pad pebble `f`, a tail of at
 * least a header and 64 bytes becomes a free remainder, a smaller tail is absorbed. Returns the
 * used pebble's header (`data` - 128) with its state and size set; the caller fills the rest.
 */
export function carve(
  memory: Memory,
  bucket: number,
  f: number,
  data: number,
  need: number,
  kind: number,
): number {
  const freeSize = memory.read32(f + PB_SIZE);
  const end = f + PEBBLE_HEADER_BYTES + freeSize;
  const p = data - PEBBLE_HEADER_BYTES;
  if (p !== f) {
    // f keeps the gap as the pad pebble and stays on the free list.
    memory.write32(f + PB_SIZE, p - f - PEBBLE_HEADER_BYTES);
    memory.write32(p + PB_MAGIC, PEBBLE_MAGIC);
    write64(memory, p + PB_PARENT, bucket);
    linkAfter(memory, bucket, f, p);
  } else {
    unlinkFree(memory, bucket, f);
  }
  let size = end - data;
  if (size - need >= MIN_SPLIT) {
    const rest = data + need;
    writeFreeHeader(memory, bucket, rest, size - need - PEBBLE_HEADER_BYTES, kind);
    linkAfter(memory, bucket, p, rest);
    pushFree(memory, bucket, rest);
    size = need;
  }
  memory.write32(p + PB_SIZE, size);
  memory.write32(p + PB_STATE, USED_TAG);
  write64(memory, p + PB_FREE_NEXT, 0);
  write64(memory, p + PB_FREE_PREV, 0);
  if (freeSize === memory.read32(bucket + BK_LARGEST)) recomputeLargest(memory, bucket);
  return p;
}

/**
 * Frees used pebble `p`: marks it free (flags back to the bucket's kind, name cleared) and
 * merges it with a free next and a free previous neighbour. Returns the resulting free pebble.
 */
export function release(memory: Memory, bucket: number, p: number, kind: number): number {
  let size = memory.read32(p + PB_SIZE);
  memory.write32(p + PB_STATE, FREE_TAG);
  memory.write32(p + PB_FLAGS, kind);
  memory.write32(p + PB_REQUESTED, 0);
  memory.write32(p + PB_ALIGN, GRANULE);
  memory.write32(p + PB_NAME, 0);
  const next = read64(memory, p + PB_NEXT);
  if (next !== 0 && memory.read32(next + PB_STATE) === FREE_TAG) {
    unlinkFree(memory, bucket, next);
    size += PEBBLE_HEADER_BYTES + memory.read32(next + PB_SIZE);
    unlinkNext(memory, bucket, p, next);
  }
  let merged = p;
  const prev = read64(memory, p + PB_PREV);
  if (prev !== 0 && memory.read32(prev + PB_STATE) === FREE_TAG) {
    size += PEBBLE_HEADER_BYTES + memory.read32(prev + PB_SIZE);
    unlinkNext(memory, bucket, prev, p);
    merged = prev;
  } else {
    pushFree(memory, bucket, p);
  }
  memory.write32(merged + PB_SIZE, size);
  if (size > memory.read32(bucket + BK_LARGEST)) memory.write32(bucket + BK_LARGEST, size);
  return merged;
}

/**
 * Resizes used pebble `p` in place to hold `need` data bytes: shrinking splits off a free tail
 * (merged with a free next neighbour), growing absorbs a free next neighbour when it is large
 * enough. Returns false, changing nothing, when the pebble cannot grow in place.
 */
export function resizeInPlace(
  memory: Memory,
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
    unlinkFree(memory, bucket, next);
    unlinkNext(memory, bucket, p, next);
    size += PEBBLE_HEADER_BYTES + nextSize;
    memory.write32(p + PB_SIZE, size);
    if (nextSize === memory.read32(bucket + BK_LARGEST)) recomputeLargest(memory, bucket);
  }
  if (size - need >= MIN_SPLIT) {
    // The tail becomes a pebble of its own and is freed, which merges it with a free neighbour.
    const tail = p + PEBBLE_HEADER_BYTES + need;
    memory.write32(p + PB_SIZE, need);
    memory.write32(tail + PB_MAGIC, PEBBLE_MAGIC);
    memory.write32(tail + PB_STATE, USED_TAG);
    memory.write32(tail + PB_SIZE, size - need - PEBBLE_HEADER_BYTES);
    write64(memory, tail + PB_PARENT, bucket);
    linkAfter(memory, bucket, p, tail);
    release(memory, bucket, tail, kind);
  }
  return true;
}
