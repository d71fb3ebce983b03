import { AllocatorError, hex } from "@allockit/core";
import type { Memory } from "@allockit/core";
import type { SlabGeometry } from "./geometry.js";
import {
  SLAB_MAGIC,
  S_BASE,
  S_CACHE,
  S_COLOUR,
  S_FREE,
  S_FRESH,
  S_IN_USE,
  S_LIST,
  S_MAGIC,
  S_NEXT,
  S_OBJECTS,
  S_PAGES,
  S_PREV,
} from "./layout.js";
import { read64, write64 } from "./ram.js";

/**
 * One slab's header and object bookkeeping in simulated RAM: its free list (bufctl indexes
 * beside the header, never inside the objects), its allocated-object bitmap and the
 * sizes callers asked for. Objects at or beyond the header's `fresh` index have never been
 * handed out and are taken in order, so a new slab costs a header write, not a pass over
 * every object.
 */

function corrupt(slab: number, what: string): never {
  throw new AllocatorError("ECORRUPT", `heap-slab: slab ${hex(slab)}: ${what}`, slab);
}

/** Writes a fresh header: every object free, none on the free list yet. */
export function initSlab(
  memory: Memory,
  geometry: SlabGeometry,
  slab: number,
  base: number,
  colour: number,
  cacheId: number,
): void {
  // Every field, word by word (a fill goes page by page through the MMU on the machine).
  memory.write32(slab + S_MAGIC, SLAB_MAGIC);
  memory.write32(slab + S_CACHE, cacheId);
  memory.write32(slab + S_IN_USE, 0);
  memory.write32(slab + S_COLOUR, colour);
  write64(memory, slab + S_NEXT, 0);
  write64(memory, slab + S_PREV, 0);
  write64(memory, slab + S_BASE, base);
  write64(memory, slab + S_FREE, geometry.noIndex);
  memory.write32(slab + S_FRESH, 0);
  memory.write32(slab + S_LIST, 0);
  memory.write32(slab + S_PAGES, geometry.pagesPerSlab);
  memory.write32(slab + S_OBJECTS, geometry.objectsPerSlab);
  const bitmap = slab + geometry.bitmapOffset;
  const words = Math.ceil(geometry.objectsPerSlab / 32);
  for (let word = 0; word < words; word++) memory.write32(bitmap + 4 * word, 0);
}

/** Address of the slab's first object (its base plus its colour). */
export function firstObject(memory: Memory, slab: number): number {
  return read64(memory, slab + S_BASE) + memory.read32(slab + S_COLOUR);
}

/** The same, one read cheaper on-slab, where the base is the header's page. */
export function firstObjectOf(memory: Memory, geometry: SlabGeometry, slab: number): number {
  return geometry.offSlab
    ? firstObject(memory, slab)
    : slab - geometry.headerOffset + memory.read32(slab + S_COLOUR);
}

/**
 * Takes a free object off the slab and marks it allocated; returns its index. A free-list head
 * or bufctl past the slab's objects, or naming an allocated object, throws ECORRUPT before
 * anything changes.
 */
export function takeObject(memory: Memory, geometry: SlabGeometry, slab: number): number {
  const objects = geometry.objectsPerSlab;
  const noIndex = geometry.noIndex;
  // Work out the object and the new list head first; write only once both are known good.
  let index = memory.read32(slab + S_FREE);
  let next = -1; // -1: the object comes from the never-used tail, not the free list
  if (index !== noIndex) {
    if (index >= objects) corrupt(slab, `free-list head index ${index} >= ${objects} objects`);
    next =
      geometry.bufctlWidth === 1
        ? memory.read8(slab + geometry.bufctlOffset + index)
        : memory.read16(slab + geometry.bufctlOffset + 2 * index);
    if (next !== noIndex && next >= objects)
      corrupt(slab, `bufctl ${index} links to index ${next} >= ${objects} objects`);
  } else {
    index = memory.read32(slab + S_FRESH);
    if (index >= objects) corrupt(slab, "no free object although the slab is not listed as full");
  }
  const word = slab + geometry.bitmapOffset + (index >>> 5) * 4;
  const bits = memory.read32(word);
  const bit = 1 << (index & 31);
  if ((bits & bit) !== 0) corrupt(slab, `object ${index} is on the free list but allocated`);
  if (next < 0) memory.write32(slab + S_FRESH, index + 1);
  else memory.write32(slab + S_FREE, next);
  memory.write32(word, (bits | bit) >>> 0);
  return index;
}

/** Puts allocated object `index` back on the slab's free list. */
export function putObject(
  memory: Memory,
  geometry: SlabGeometry,
  slab: number,
  index: number,
): void {
  const word = slab + geometry.bitmapOffset + (index >>> 5) * 4;
  putObjectWithBits(memory, geometry, slab, index, word, memory.read32(word));
}

/**
 * The same, when the caller has just read the object's bitmap word (`bits`, at `word`), as
 * locating the pointer does. The object itself is not written.
 */
export function putObjectWithBits(
  memory: Memory,
  geometry: SlabGeometry,
  slab: number,
  index: number,
  word: number,
  bits: number,
): void {
  memory.write32(word, (bits & ~(1 << (index & 31))) >>> 0);
  const head = memory.read32(slab + S_FREE);
  if (geometry.bufctlWidth === 1) memory.write8(slab + geometry.bufctlOffset + index, head);
  else memory.write16(slab + geometry.bufctlOffset + 2 * index, head);
  memory.write32(slab + S_FREE, index);
}

/** The next index after object `index` on the free list (its bufctl). */
export function bufctlOf(
  memory: Memory,
  geometry: SlabGeometry,
  slab: number,
  index: number,
): number {
  return geometry.bufctlWidth === 1
    ? memory.read8(slab + geometry.bufctlOffset + index)
    : memory.read16(slab + geometry.bufctlOffset + 2 * index);
}

/** True when object `index` is handed out. */
export function isAllocated(
  memory: Memory,
  geometry: SlabGeometry,
  slab: number,
  index: number,
): boolean {
  const word = slab + geometry.bitmapOffset + (index >>> 5) * 4;
  return (memory.read32(word) & (1 << (index & 31))) !== 0;
}

/** Records the size a caller asked for (caches that keep requested sizes only). */
export function setRequested(
  memory: Memory,
  geometry: SlabGeometry,
  slab: number,
  index: number,
  size: number,
): void {
  if (geometry.requestedWidth === 1) memory.write8(slab + geometry.requestedOffset + index, size);
  else memory.write16(slab + geometry.requestedOffset + 2 * index, size);
}

/** The size a caller asked for; the object size in caches that do not keep it. */
export function getRequested(
  memory: Memory,
  geometry: SlabGeometry,
  slab: number,
  index: number,
): number {
  if (geometry.requestedWidth === 0) return geometry.objectSize;
  if (geometry.requestedWidth === 1) return memory.read8(slab + geometry.requestedOffset + index);
  return memory.read16(slab + geometry.requestedOffset + 2 * index);
}

/** Slab-list links. */
export function nextSlab(memory: Memory, slab: number): number {
  return read64(memory, slab + S_NEXT);
}

export function prevSlab(memory: Memory, slab: number): number {
  return read64(memory, slab + S_PREV);
}

export function slabList(memory: Memory, slab: number): number {
  return memory.read32(slab + S_LIST);
}

export function objectsInUse(memory: Memory, slab: number): number {
  return memory.read32(slab + S_IN_USE);
}
