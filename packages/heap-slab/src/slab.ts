import { AllocatorError, hex } from "@allockit/core";
import type { Memory } from "@allockit/core";
import type { SlabGeometry } from "./geometry.js";
import {
  NO_INDEX,
  SLAB_HEADER_BYTES,
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
 * One slab's header and object bookkeeping in simulated RAM: its free list (threaded through
 * the free objects on-slab, bufctl indexes off-slab), its allocated-object bitmap and the
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
  memory.fill(slab, 0, SLAB_HEADER_BYTES);
  memory.write32(slab + S_MAGIC, SLAB_MAGIC);
  memory.write32(slab + S_CACHE, cacheId);
  memory.write32(slab + S_COLOUR, colour);
  write64(memory, slab + S_BASE, base);
  if (geometry.offSlab) memory.write32(slab + S_FREE, NO_INDEX);
  memory.write32(slab + S_PAGES, geometry.pagesPerSlab);
  memory.write32(slab + S_OBJECTS, geometry.objectsPerSlab);
  memory.fill(slab + geometry.bitmapOffset, 0, 4 * Math.ceil(geometry.objectsPerSlab / 32));
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
 * Takes a free object off the slab and marks it allocated; returns its index. A free-list link
 * that leaves the slab, misses an object boundary or names an allocated object throws
 * ECORRUPT (a write after free, most likely) before anything changes.
 */
export function takeObject(
  memory: Memory,
  geometry: SlabGeometry,
  slab: number,
  first: number,
): number {
  const objects = geometry.objectsPerSlab;
  // Work out the object and the new list head first; write only once both are known good.
  let index: number;
  let next = -1; // -1: the object comes from the never-used tail, not the free list
  if (!geometry.offSlab) {
    const head = read64(memory, slab + S_FREE);
    if (head !== 0) {
      index = (head - first) / geometry.stride;
      if (!(index >= 0 && index < objects && Number.isInteger(index)))
        corrupt(slab, `free-list head ${hex(head)} is not an object of the slab`);
      next = read64(memory, head + geometry.linkOffset);
      const nextIndex = (next - first) / geometry.stride;
      if (next !== 0 && !(nextIndex >= 0 && nextIndex < objects && Number.isInteger(nextIndex))) {
        corrupt(
          slab,
          `free object ${hex(head)} links to ${hex(next)}, which is not an object of the slab (written after free?)`,
        );
      }
    } else {
      index = memory.read32(slab + S_FRESH);
    }
  } else {
    const head = memory.read32(slab + S_FREE);
    if (head !== NO_INDEX) {
      if (head >= objects) corrupt(slab, `free-list head index ${head} >= ${objects} objects`);
      next = memory.read8(slab + geometry.bufctlOffset + head);
      if (next !== NO_INDEX && next >= objects)
        corrupt(slab, `bufctl ${head} links to index ${next} >= ${objects} objects`);
      index = head;
    } else {
      index = memory.read32(slab + S_FRESH);
    }
  }
  if (next < 0 && index >= objects)
    corrupt(slab, "no free object although the slab is not listed as full");
  const word = slab + geometry.bitmapOffset + (index >>> 5) * 4;
  const bits = memory.read32(word);
  const bit = 1 << (index & 31);
  if ((bits & bit) !== 0) corrupt(slab, `object ${index} is on the free list but allocated`);
  if (next < 0) memory.write32(slab + S_FRESH, index + 1);
  else if (geometry.offSlab) memory.write32(slab + S_FREE, next);
  else write64(memory, slab + S_FREE, next);
  memory.write32(word, (bits | bit) >>> 0);
  return index;
}

/** Puts allocated object `index` (at `addr`) back on the slab's free list. */
export function putObject(
  memory: Memory,
  geometry: SlabGeometry,
  slab: number,
  index: number,
  addr: number,
): void {
  const word = slab + geometry.bitmapOffset + (index >>> 5) * 4;
  memory.write32(word, (memory.read32(word) & ~(1 << (index & 31))) >>> 0);
  if (!geometry.offSlab) {
    write64(memory, addr + geometry.linkOffset, read64(memory, slab + S_FREE));
    write64(memory, slab + S_FREE, addr);
  } else {
    memory.write8(slab + geometry.bufctlOffset + index, memory.read32(slab + S_FREE));
    memory.write32(slab + S_FREE, index);
  }
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
