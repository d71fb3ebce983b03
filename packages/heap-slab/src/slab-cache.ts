import type { Memory } from "@allockit/core";
import type { SlabContext } from "./context.js";
import type { SlabGeometry } from "./geometry.js";
import {
  LIST_EMPTY,
  LIST_FULL,
  LIST_PARTIAL,
  PAGE_SIZE,
  S_BASE,
  S_IN_USE,
  S_MAGIC,
} from "./layout.js";
import { read64 } from "./ram.js";
import { SlabLists } from "./slab-lists.js";
import {
  firstObject,
  firstObjectOf,
  getRequested,
  initSlab,
  putObjectWithBits,
  setRequested,
  takeObject,
} from "./slab.js";

/** An object constructor or destructor: gets the memory and the object's address. */
export type ObjectCallback = (memory: Memory, addr: number) => void;

/** What a cache serves: heap_alloc size classes, a user's object cache, or heap metadata. */
export type CacheKind = "kmalloc" | "cache" | "internal";

/** Counters of a cache over its life (read-only outside the heap). */
export interface SlabCacheStatistics {
  /** Objects handed out and not yet freed. */
  activeObjects: number;
  /** Successful allocations, frees and allocations that found no memory. */
  allocs: number;
  frees: number;
  failedAllocs: number;
  /** Slabs made, and slabs released to the PageSource (reaped). */
  slabsCreated: number;
  slabsReaped: number;
  /** Constructor and destructor calls. */
  ctorCalls: number;
  dtorCalls: number;
}

/**
 * An object cache (Bonwick's kmem_cache): slabs of equal-size objects on three doubly linked
 * lists in simulated RAM (partial, full, empty). Objects are taken from partial slabs first,
 * then from an empty one, and only then is a new slab made. A constructor runs over every
 * object of a new slab and a destructor over every object of a slab being released, never on
 * alloc or free, so objects keep their constructed state between uses.
 *
 * The JavaScript object is the cache's handle: its geometry, list heads and counters. Create
 * one with `SlabHeap.createCache`.
 */
export class SlabCache {
  private readonly counters: SlabCacheStatistics = {
    activeObjects: 0,
    allocs: 0,
    frees: 0,
    failedAllocs: 0,
    slabsCreated: 0,
    slabsReaped: 0,
    ctorCalls: 0,
    dtorCalls: 0,
  };
  private readonly lists: SlabLists;
  /** Index of the colour the next slab gets. */
  private nextColour = 0;
  private isDestroyed = false;

  /** @internal Made by the heap (createCache); not for direct use. */
  constructor(
    /** The cache's name, as slabinfo shows it. */
    readonly name: string,
    readonly kind: CacheKind,
    /** How the cache lays out its slabs. */
    readonly geometry: SlabGeometry,
    /** Index of the cache in its heap (the slab headers' cache field). */
    readonly id: number,
    private readonly context: SlabContext,
    /** Where off-slab headers come from (undefined for on-slab caches). */
    private readonly headerCache: SlabCache | undefined,
    readonly ctor: ObjectCallback | undefined,
    readonly dtor: ObjectCallback | undefined,
  ) {
    this.lists = new SlabLists(context.memory);
  }

  /** Bytes per object. */
  get objectSize(): number {
    return this.geometry.objectSize;
  }

  /** The cache's counters. */
  get statistics(): Readonly<SlabCacheStatistics> {
    return this.counters;
  }

  /** Objects handed out and not yet freed. */
  get activeObjects(): number {
    return this.counters.activeObjects;
  }

  /** Slabs with some objects free and some handed out. */
  get partialSlabs(): number {
    return this.lists.partial;
  }

  /** Slabs with every object handed out. */
  get fullSlabs(): number {
    return this.lists.full;
  }

  /** Slabs with no object handed out, kept for reuse. */
  get emptySlabs(): number {
    return this.lists.empty;
  }

  get slabs(): number {
    return this.lists.partial + this.lists.full + this.lists.empty;
  }

  /** True once the heap destroyed the cache; the handle can no longer be used. */
  get destroyed(): boolean {
    return this.isDestroyed;
  }

  /** Colour offset the next slab will get, in bytes. */
  get nextColourOffset(): number {
    return this.nextColour * this.geometry.align;
  }

  /** @internal Head of list LIST_PARTIAL, LIST_FULL or LIST_EMPTY, for check(). */
  listHead(list: number): number {
    return this.lists.head(list);
  }

  /** @internal Slabs counted on a list, for check(). */
  listLength(list: number): number {
    return this.lists.length(list);
  }

  /** @internal Releases every slab and retires the handle (the heap checked it is unused). */
  destroy(): void {
    this.reap(0);
    this.isDestroyed = true;
  }

  // ---------------------------------------------------------------- objects

  /**
   * Hands out an object, or 0 when no page can be had. `requested` is recorded in caches that
   * keep requested sizes.
   */
  alloc(requested: number): number {
    const memory = this.context.memory;
    const geometry = this.geometry;
    let slab = this.lists.partialHead;
    if (slab === 0) {
      slab = this.lists.emptyHead;
      if (slab === 0) {
        slab = this.grow();
        if (slab === 0) {
          this.counters.failedAllocs++;
          return 0;
        }
      }
    }
    const first = firstObjectOf(memory, geometry, slab);
    const index = takeObject(memory, geometry, slab);
    const inUse = memory.read32(slab + S_IN_USE) + 1;
    memory.write32(slab + S_IN_USE, inUse);
    if (inUse === geometry.objectsPerSlab) this.lists.move(slab, LIST_FULL);
    else if (inUse === 1) this.lists.move(slab, LIST_PARTIAL);
    if (geometry.requestedWidth !== 0) setRequested(memory, geometry, slab, index, requested);
    this.counters.activeObjects++;
    this.counters.allocs++;
    return first + index * geometry.stride;
  }

  /** Size recorded for object `index` of `slab`. */
  requestedOf(slab: number, index: number): number {
    return getRequested(this.context.memory, this.geometry, slab, index);
  }

  /**
   * Takes back allocated object `index` (at `addr`) of `slab`; the caller has checked that it
   * is allocated. A slab left empty joins the empty list, or is released at once when the
   * cache already keeps enough empty slabs.
   */
  free(slab: number, index: number, addr: number): void {
    const word = slab + this.geometry.bitmapOffset + (index >>> 5) * 4;
    this.freeWithBits(slab, index, addr, word, this.context.memory.read32(word));
  }

  /** The same, given the object's bitmap word (`bits`, at `word`) as the caller just read it. */
  freeWithBits(slab: number, index: number, addr: number, word: number, bits: number): void {
    const memory = this.context.memory;
    const geometry = this.geometry;
    putObjectWithBits(memory, geometry, slab, index, word, bits);
    const inUse = memory.read32(slab + S_IN_USE) - 1;
    memory.write32(slab + S_IN_USE, inUse);
    this.counters.activeObjects--;
    this.counters.frees++;
    if (inUse === 0) {
      if (this.lists.empty >= this.context.keepEmptySlabs) {
        this.lists.unlink(slab);
        this.destroySlab(slab);
      } else {
        this.lists.move(slab, LIST_EMPTY);
      }
    } else if (inUse === geometry.objectsPerSlab - 1) {
      this.lists.move(slab, LIST_PARTIAL);
    }
  }

  /** Frees an object of this cache by address (metadata objects: trusted, never user input). */
  freeAddress(addr: number): void {
    const table = this.context.table;
    const page = Math.floor(addr / PAGE_SIZE);
    const slab = this.geometry.offSlab
      ? table.slabOf(table.find(page))
      : page * PAGE_SIZE + this.geometry.headerOffset;
    const first = firstObjectOf(this.context.memory, this.geometry, slab);
    const index = (addr - first) / this.geometry.stride;
    this.free(slab, index, addr);
  }

  // ---------------------------------------------------------------- slabs

  /** Releases empty slabs until at most `keep` remain; returns the pages released. */
  reap(keep: number): number {
    let pages = 0;
    while (this.lists.empty > keep) {
      const slab = this.lists.emptyHead;
      this.lists.unlink(slab);
      this.destroySlab(slab);
      pages += this.geometry.pagesPerSlab;
    }
    return pages;
  }

  /**
   * Makes a new empty slab: an off-slab header, room in the ownership table, the pages, the
   * header, a colour, the constructor over every object. Every step is undone if a later one
   * fails (no pages, a throwing constructor). Returns the slab header, or 0.
   */
  private grow(): number {
    const { memory, supply, table } = this.context;
    const geometry = this.geometry;
    const pages = geometry.pagesPerSlab;
    let slab = 0;
    if (geometry.offSlab) {
      slab = this.headerCache!.alloc(0);
      if (slab === 0) return 0;
    }
    let base = 0;
    try {
      // Either may reap under memory pressure, and a destructor may throw there.
      if (table.reserve(pages)) base = supply.grab(pages, PAGE_SIZE);
    } finally {
      if (base === 0 && slab !== 0) this.headerCache!.freeAddress(slab);
    }
    if (base === 0) return 0;
    if (!geometry.offSlab) slab = base + geometry.headerOffset;
    const colour = this.nextColour * geometry.align;
    this.nextColour = this.nextColour + 1 >= geometry.colours ? 0 : this.nextColour + 1;
    initSlab(memory, geometry, slab, base, colour, this.id);
    const firstPage = base / PAGE_SIZE;
    for (let page = 0; page < pages; page++) table.insertSlab(firstPage + page, slab);
    if (this.ctor !== undefined) this.construct(slab, base + colour);
    this.lists.link(slab, LIST_EMPTY);
    this.counters.slabsCreated++;
    return slab;
  }

  /** Runs the constructor over every object; on a throw, undoes the slab and rethrows. */
  private construct(slab: number, first: number): void {
    const { memory } = this.context;
    const stride = this.geometry.stride;
    let built = 0;
    this.context.callbackDepth++;
    try {
      for (; built < this.geometry.objectsPerSlab; built++) {
        this.counters.ctorCalls++;
        this.ctor!(memory, first + built * stride);
      }
    } catch (error) {
      try {
        for (let i = 0; i < built && this.dtor !== undefined; i++) {
          this.counters.dtorCalls++;
          this.dtor(memory, first + i * stride);
        }
      } finally {
        this.context.callbackDepth--;
        this.releasePages(slab);
      }
      throw error;
    }
    this.context.callbackDepth--;
  }

  /**
   * Releases an unlinked empty slab: the destructor over every object (all were constructed
   * with the slab), then its ownership entries, pages and off-slab header.
   */
  private destroySlab(slab: number): void {
    if (this.dtor === undefined) {
      this.releasePages(slab);
    } else {
      const memory = this.context.memory;
      const first = firstObject(memory, slab);
      this.context.callbackDepth++;
      try {
        for (let i = 0; i < this.geometry.objectsPerSlab; i++) {
          this.counters.dtorCalls++;
          this.dtor(memory, first + i * this.geometry.stride);
        }
      } finally {
        this.context.callbackDepth--;
        this.releasePages(slab);
      }
    }
    this.counters.slabsReaped++;
  }

  private releasePages(slab: number): void {
    const { memory, supply, table } = this.context;
    const base = read64(memory, slab + S_BASE);
    const pages = this.geometry.pagesPerSlab;
    const firstPage = base / PAGE_SIZE;
    for (let page = 0; page < pages; page++) {
      const entry = table.find(firstPage + page);
      if (entry !== 0) table.remove(entry);
    }
    memory.write32(slab + S_MAGIC, 0);
    if (this.geometry.offSlab) this.headerCache!.freeAddress(slab);
    supply.release(base, pages);
  }
}
