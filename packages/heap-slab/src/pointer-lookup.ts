import { AllocatorError, describeValue, hex } from "@allockit/core";
import type { Memory } from "@allockit/core";
import { KIND_RUN, KIND_SLAB, PAGE_SIZE, SLAB_MAGIC, S_CACHE, S_MAGIC } from "./layout.js";
import type { PageOwnerTable } from "./page-owners.js";
import type { SlabCache } from "./slab-cache.js";
import { firstObjectOf, isAllocated } from "./slab.js";

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

  constructor(
    private readonly memory: Memory,
    private readonly table: PageOwnerTable,
    private readonly caches: readonly (SlabCache | undefined)[],
  ) {}

  /** Classifies `ptr` (a non-negative safe integer). Throws ECORRUPT on a broken slab header. */
  locate(ptr: number): number {
    const page = Math.floor(ptr / PAGE_SIZE);
    const entry = this.table.find(page);
    if (entry === 0) return FOREIGN;
    this.entry = entry;
    const kind = this.table.foundKind;
    if (kind === KIND_RUN) return ptr === page * PAGE_SIZE ? RUN_START : RUN_INTERIOR;
    const memory = this.memory;
    const slab = kind === KIND_SLAB ? this.table.slabOf(entry) : 0;
    if (slab === 0 || memory.read32(slab + S_MAGIC) !== SLAB_MAGIC) {
      throw new AllocatorError(
        "ECORRUPT",
        `heap-slab: page ${hex(page * PAGE_SIZE)} of pointer ${describeValue(ptr)} maps to ${hex(slab)}, which is not a slab header`,
        ptr,
      );
    }
    const cache = this.caches[memory.read32(slab + S_CACHE)];
    if (cache === undefined) {
      throw new AllocatorError(
        "ECORRUPT",
        `heap-slab: slab ${hex(slab)} names cache ${memory.read32(slab + S_CACHE)}, which does not exist`,
        slab,
      );
    }
    this.slab = slab;
    this.cache = cache;
    const geometry = cache.geometry;
    const first = firstObjectOf(memory, geometry, slab);
    this.first = first;
    const index = (ptr - first) / geometry.stride;
    if (!(index >= 0 && index < geometry.objectsPerSlab && Number.isInteger(index)))
      return NOT_OBJECT;
    this.index = index;
    return isAllocated(memory, geometry, slab, index) ? LIVE_OBJECT : FREE_OBJECT;
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
