import { AllocatorError, describeValue, hex } from "@allockit/core";
import type { Memory } from "@allockit/core";
import {
  KIND_PAGE_SLAB,
  KIND_RUN,
  KIND_SLAB,
  PAGE_SIZE,
  SLAB_HEADER_BYTES,
  SLAB_MAGIC,
  S_CACHE,
  S_COLOUR,
  S_MAGIC,
} from "./layout.js";
import type { PageOwnerTable } from "./page-owners.js";
import type { SlabCache } from "./slab-cache.js";
import { firstObject } from "./slab.js";

/** What a pointer is, as {@link PointerLookup.locate} finds it. */
export const FOREIGN = 0;
/** The start of a page run. */
export const RUN_START = 1;
/** Inside the first page of a page run, not at its start. */
export const RUN_INTERIOR = 2;
/** An allocated object. */
export const LIVE_OBJECT = 3;
/** The start of a free object. */
export const FREE_OBJECT = 4;
/** In a slab, but not at an object start (inside an object, colour, slack, metadata). */
export const NOT_OBJECT = 5;

/**
 * Tells what a pointer is, with certainty, from the page-ownership table, the slab header and
 * its bitmap (never from anything inside an object). Results go into fields rather than a new
 * object, so heap_free and heap_size allocate nothing.
 */
export class PointerLookup {
  /** Ownership-table entry of the pointer's page. */
  entry = 0;
  /** Slab header, when the pointer lies in a slab. */
  slab = 0;
  /** The slab's cache. */
  cache: SlabCache | undefined = undefined;
  /** Object index in the slab (LIVE_OBJECT and FREE_OBJECT). */
  index = 0;
  /** The slab's first object. */
  first = 0;
  /** Address of the bitmap word holding the object's bit, and the word as read. */
  bitmapWord = 0;
  bits = 0;

  constructor(
    private readonly memory: Memory,
    private readonly table: PageOwnerTable,
    private readonly caches: readonly (SlabCache | undefined)[],
  ) {}

  /** Classifies `ptr` (a non-negative safe integer). Throws ECORRUPT on a broken slab header. */
  locate(ptr: number): number {
    const page = Math.floor(ptr / PAGE_SIZE);
    const table = this.table;
    const entry = table.find(page);
    if (entry === 0) return FOREIGN;
    this.entry = entry;
    const kind = table.foundKind;
    const pageBase = page * PAGE_SIZE;
    if (kind === KIND_RUN) return ptr === pageBase ? RUN_START : RUN_INTERIOR;
    const memory = this.memory;
    // A one-page slab's header is at the end of the page: no need to read the entry's value.
    const slab =
      kind === KIND_PAGE_SLAB
        ? pageBase + (PAGE_SIZE - SLAB_HEADER_BYTES)
        : kind === KIND_SLAB
          ? table.slabOf(entry)
          : 0;
    if (slab === 0 || memory.read32(slab + S_MAGIC) !== SLAB_MAGIC) {
      throw new AllocatorError(
        "ECORRUPT",
        `heap-slab: page ${hex(pageBase)} of pointer ${describeValue(ptr)} maps to ${hex(slab)}, which is not a slab header`,
        ptr,
      );
    }
    const cacheId = memory.read32(slab + S_CACHE);
    const cache = this.caches[cacheId];
    if (cache === undefined || cache.geometry.offSlab === (kind === KIND_PAGE_SLAB)) {
      throw new AllocatorError(
        "ECORRUPT",
        `heap-slab: slab ${hex(slab)} names cache ${cacheId}, which does not exist or does not lay out its slabs that way`,
        slab,
      );
    }
    this.slab = slab;
    this.cache = cache;
    const geometry = cache.geometry;
    const first =
      kind === KIND_PAGE_SLAB
        ? pageBase + memory.read32(slab + S_COLOUR)
        : firstObject(memory, slab);
    this.first = first;
    const index = (ptr - first) / geometry.stride;
    if (!(index >= 0 && index < geometry.objectsPerSlab && Number.isInteger(index)))
      return NOT_OBJECT;
    this.index = index;
    const word = slab + geometry.bitmapOffset + (index >>> 5) * 4;
    const bits = memory.read32(word);
    this.bitmapWord = word;
    this.bits = bits;
    return (bits & (1 << (index & 31))) !== 0 ? LIVE_OBJECT : FREE_OBJECT;
  }

  /** What a pointer that is not a live heap_alloc block is, after `locate` said `found`. */
  describe(found: number, ptr: number): string {
    switch (found) {
      case FOREIGN:
        return "not in this heap";
      case RUN_START:
        return "a page run of heap_alloc";
      case RUN_INTERIOR: {
        const start = ptr - (ptr % PAGE_SIZE);
        return `${ptr - start} bytes into the page run at ${hex(start)}`;
      }
      case NOT_OBJECT:
        return `not an object start (${this.describeNotObject(ptr)})`;
      default:
        return this.cache!.kind === "internal"
          ? `slab metadata (an object of "${this.cache!.name}")`
          : `an object of cache "${this.cache!.name}"; free it with cacheFree`;
    }
  }

  private describeNotObject(ptr: number): string {
    const geometry = this.cache!.geometry;
    const offset = ptr - this.first;
    const index = Math.floor(offset / geometry.stride);
    if (offset >= 0 && index < geometry.objectsPerSlab) {
      return `${offset - index * geometry.stride} bytes into object ${hex(this.first + index * geometry.stride)} of cache "${this.cache!.name}"`;
    }
    return `in the colour, slack or metadata of slab ${hex(this.slab)} of cache "${this.cache!.name}"`;
  }
}
