import {
  AllocatorError,
  HeapCounters,
  PAGE_SIZE,
  checkPointer,
  checkSize,
  describeValue,
  effectiveAlign,
} from "@allockit/core";
import type { Heap, HeapStats, Memory, PageSource } from "@allockit/core";
import { checkSlabHeap } from "./consistency-check.js";
import { SlabContext } from "./context.js";
import { slabGeometry } from "./geometry.js";
import { checkCacheArguments } from "./cache-arguments.js";
import type { SlabCacheOptions } from "./cache-arguments.js";
import { MIN_ALIGN, OFF_SLAB_HEADER_BYTES } from "./layout.js";
import { resolveSlabHeapOptions } from "./options.js";
import type { ResolvedSlabHeapOptions, SlabHeapOptions } from "./options.js";
import { PageOwnerTable } from "./page-owners.js";
import { PageRuns } from "./page-runs.js";
import { PageSupply } from "./page-supply.js";
import { FREE_OBJECT, LIVE_OBJECT, PointerLookup, RUN_START } from "./pointer-lookup.js";
import { SlabCache } from "./slab-cache.js";
import type { CacheKind, ObjectCallback } from "./slab-cache.js";
import { LARGEST_CLASS, SIZE_CLASSES, classAlignment, classIndexTable } from "./size-classes.js";
import { cacheTotals, formatSlabinfo, pageRunsRow, slabinfoRow } from "./slabinfo.js";
import type { SlabInfoRow } from "./slabinfo.js";

const CLASS_INDEX = classIndexTable();
const CLASS_ALIGN = Uint32Array.from(SIZE_CLASSES, classAlignment);

/**
 * Bonwick's slab allocator (USENIX 1994) over a PageSource: object caches with constructed
 * state, colouring, on-slab and off-slab slabs, a reap policy; and the common heap API over
 * kmalloc-style size classes, with whole-page runs for large requests. Every piece of metadata
 * lives in simulated RAM; JavaScript holds one small handle per cache and a few counters.
 */
export class SlabHeap implements Heap {
  readonly name = "heap-slab";
  readonly memory: Memory;
  readonly defaultAlign = 8;
  /** Page runs honour alignments up to 1 GiB (a huge page), if the PageSource can. */
  readonly maxAlign = 2 ** 30;
  /** True when no empty slab is kept (keepEmptySlabs 0): then every page goes back. */
  readonly releasesMemory: boolean;
  readonly options: ResolvedSlabHeapOptions;

  private readonly supply: PageSupply;
  private readonly table: PageOwnerTable;
  private readonly context: SlabContext;
  private readonly runs: PageRuns;
  private readonly lookup: PointerLookup;
  /** Caches by id: the slab-header cache, the size classes, then user caches. */
  private readonly caches: (SlabCache | undefined)[] = [];
  private readonly sizeClasses: SlabCache[] = [];
  private readonly headerCache: SlabCache;

  private readonly counters = new HeapCounters();

  constructor(source: PageSource, options: SlabHeapOptions = {}) {
    if (source.pageSize !== PAGE_SIZE) {
      throw new AllocatorError(
        "EINVAL",
        `heap-slab needs ${PAGE_SIZE}-byte pages; the PageSource has ${describeValue(source.pageSize)}`,
        source.pageSize,
      );
    }
    this.options = resolveSlabHeapOptions(options);
    this.releasesMemory = this.options.keepEmptySlabs === 0;
    this.memory = source.memory;
    this.supply = new PageSupply(source, () => this.reapAll());
    this.table = new PageOwnerTable(this.supply);
    this.context = new SlabContext(
      this.memory,
      this.supply,
      this.table,
      this.options.keepEmptySlabs,
      this.options.colouring,
    );
    this.runs = new PageRuns(this.supply, this.table);
    this.lookup = new PointerLookup(this.memory, this.table, this.caches);
    this.headerCache = this.addCache("slab-headers", "internal", OFF_SLAB_HEADER_BYTES, MIN_ALIGN);
    for (const size of SIZE_CLASSES)
      this.sizeClasses.push(
        this.addCache(`kmalloc-${size}`, "kmalloc", size, classAlignment(size)),
      );
  }

  // ---------------------------------------------------------------- object caches

  /**
   * Creates an object cache. `name` is 1-32 printable characters, unique in the heap;
   * `objectSize` 1 .. 128 KiB. Objects below the off-slab threshold live in one-page slabs with
   * the header inside; larger ones in multi-page slabs with off-slab headers.
   */
  createCache(name: string, objectSize: number, options: SlabCacheOptions = {}): SlabCache {
    this.context.refuseReentry("createCache");
    const align = checkCacheArguments(name, objectSize, options, (taken) =>
      this.caches.some((cache) => cache?.name === taken),
    );
    return this.addCache(name, "cache", objectSize, align, options.ctor, options.dtor);
  }

  /** An object from `cache`, or 0 when no page can be had. */
  cacheAlloc(cache: SlabCache): number {
    this.context.refuseReentry("cacheAlloc");
    this.own(cache, "cacheAlloc");
    let addr = 0;
    try {
      addr = cache.alloc(0);
    } finally {
      // A failed grow (no pages, a throwing constructor) may leave an empty table behind.
      if (addr === 0) this.table.compact();
    }
    return addr;
  }

  /** Returns an object to `cache` (0 does nothing). Foreign, interior, freed or other caches'
   * pointers throw (EFAULT, EDOUBLEFREE) and change nothing. */
  cacheFree(cache: SlabCache, ptr: number): void {
    this.context.refuseReentry("cacheFree");
    this.own(cache, "cacheFree");
    if (ptr === 0) return;
    checkPointer(ptr);
    const found = this.lookup.locate(ptr);
    if (found === LIVE_OBJECT && this.lookup.cache === cache) {
      try {
        const lookup = this.lookup;
        cache.freeWithBits(lookup.slab, lookup.index, ptr, lookup.bitmapWord, lookup.bits);
      } finally {
        // The slab may have been released (a destructor may throw while it is).
        this.table.compact();
      }
      return;
    }
    if (found === FREE_OBJECT && this.lookup.cache === cache) {
      throw new AllocatorError(
        "EDOUBLEFREE",
        `cacheFree: pointer ${describeValue(ptr)} is a free object of cache "${cache.name}" (freed already, or never handed out)`,
        ptr,
      );
    }
    const what =
      found === LIVE_OBJECT || found === FREE_OBJECT
        ? `an object of cache "${this.lookup.cache!.name}"`
        : this.lookup.describe(found, ptr);
    throw new AllocatorError(
      "EFAULT",
      `cacheFree: pointer ${describeValue(ptr)} is not an object of cache "${cache.name}": it is ${what}`,
      ptr,
    );
  }

  /** Releases every slab of `cache` (destructor included) and forgets it. EINVAL while it has
   * live objects, for the built-in caches, or for a cache of another heap. */
  destroyCache(cache: SlabCache): void {
    this.context.refuseReentry("destroyCache");
    this.own(cache, "destroyCache");
    if (cache.kind !== "cache") {
      throw new AllocatorError(
        "EINVAL",
        `destroyCache: "${cache.name}" is a built-in cache of the heap`,
        cache.name,
      );
    }
    if (cache.activeObjects !== 0) {
      throw new AllocatorError(
        "EINVAL",
        `destroyCache: cache "${cache.name}" still has ${cache.activeObjects} live object(s)`,
        cache.activeObjects,
      );
    }
    try {
      cache.destroy();
    } finally {
      this.table.compact();
    }
    this.caches[cache.id] = undefined;
  }

  /** The live caches, built-in ones first. */
  listCaches(): SlabCache[] {
    return this.caches.filter((cache): cache is SlabCache => cache !== undefined);
  }

  /** The live cache named `name`, if any. */
  findCache(name: string): SlabCache | undefined {
    return this.caches.find((cache) => cache?.name === name);
  }

  /** Releases every empty slab of every cache (and shrinks the page table); returns the pages
   * given back to the PageSource. */
  reap(): number {
    this.context.refuseReentry("reap");
    const before = this.supply.pagesHeld;
    try {
      this.reapAll();
    } finally {
      this.table.compact();
    }
    return before - this.supply.pagesHeld;
  }

  /** One row per cache (size classes, user caches, slab headers) and one for the page runs. */
  slabinfo(): SlabInfoRow[] {
    const rows = this.listCaches().map(slabinfoRow);
    rows.push(pageRunsRow(this.runs));
    return rows;
  }

  /** The slabinfo as text, in the manner of /proc/slabinfo. Reads metadata only. */
  dump(): string {
    return formatSlabinfo(this.slabinfo(), this.stats());
  }

  // ---------------------------------------------------------------- the common API

  heap_alloc(size: number, align?: number): number {
    checkSize(size);
    const alignment = effectiveAlign(align, this.defaultAlign, this.maxAlign);
    this.context.refuseReentry("heap_alloc");
    let ptr = 0;
    let usable = 0;
    if (size <= LARGEST_CLASS) {
      let index = CLASS_INDEX[(size + 7) >>> 3]!;
      while (index < CLASS_ALIGN.length && CLASS_ALIGN[index]! < alignment) index++;
      if (index < CLASS_ALIGN.length) {
        ptr = this.sizeClasses[index]!.alloc(size);
        usable = SIZE_CLASSES[index]!;
      }
    }
    if (usable === 0) {
      ptr = this.runs.alloc(size, alignment);
      usable = size === 0 ? PAGE_SIZE : Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    }
    if (ptr === 0) {
      this.counters.failed();
      this.table.compact();
      return 0;
    }
    this.counters.allocated(usable, size);
    return ptr;
  }

  heap_size(ptr: number): number {
    if (!Number.isSafeInteger(ptr) || ptr <= 0) return 0;
    const found = this.lookup.locate(ptr);
    if (found === RUN_START) return this.table.runPages(this.lookup.entry) * PAGE_SIZE;
    if (found === LIVE_OBJECT && this.lookup.cache!.kind === "kmalloc")
      return this.lookup.cache!.objectSize;
    return 0;
  }

  heap_free(ptr: number): void {
    if (ptr === 0) return;
    checkPointer(ptr);
    this.context.refuseReentry("heap_free");
    const lookup = this.lookup;
    const found = lookup.locate(ptr);
    if (found === RUN_START) {
      const usable = this.table.runPages(lookup.entry) * PAGE_SIZE;
      const requested = this.table.runRequested(lookup.entry);
      this.runs.free(lookup.entry, ptr);
      this.released(usable, requested);
      return;
    }
    if (found === LIVE_OBJECT && lookup.cache!.kind === "kmalloc") {
      const cache = lookup.cache!;
      const requested = cache.requestedOf(lookup.slab, lookup.index);
      cache.freeWithBits(lookup.slab, lookup.index, ptr, lookup.bitmapWord, lookup.bits);
      this.released(cache.objectSize, requested);
      return;
    }
    if (found === FREE_OBJECT && lookup.cache!.kind === "kmalloc") {
      throw new AllocatorError(
        "EDOUBLEFREE",
        `heap_free: pointer ${describeValue(ptr)} is a free object of cache "${lookup.cache!.name}" (freed already, or never handed out)`,
        ptr,
      );
    }
    throw new AllocatorError(
      "EFAULT",
      `heap_free: pointer ${describeValue(ptr)} was not handed out by heap_alloc: it is ${this.lookup.describe(found, ptr)}`,
      ptr,
    );
  }

  stats(): HeapStats {
    return this.counters.stats(
      this.supply.pagesHeld * PAGE_SIZE,
      this.supply.peakPagesHeld * PAGE_SIZE,
      {
        ...cacheTotals(this.caches),
        largeRuns: this.runs.runs,
        largeRunPages: this.runs.pages,
        tablePages: this.table.pages,
        tableEntries: this.table.count,
        pressureReaps: this.supply.pressureReaps,
      },
    );
  }

  /** Walks every cache, slab, free list, bitmap and table entry; throws ECORRUPT. */
  check(): void {
    checkSlabHeap({
      memory: this.memory,
      caches: this.caches,
      headerCache: this.headerCache,
      table: this.table,
      runs: this.runs,
      supply: this.supply,
      liveBlocks: this.counters.liveBlocks,
      liveBytes: this.counters.liveBytes,
      requestedBytes: this.counters.requestedBytes,
    });
  }

  // ---------------------------------------------------------------- internals

  private addCache(
    name: string,
    kind: CacheKind,
    objectSize: number,
    align: number,
    ctor?: ObjectCallback,
    dtor?: ObjectCallback,
  ): SlabCache {
    const geometry = slabGeometry({
      objectSize,
      align,
      trackRequested: kind === "kmalloc",
      offSlabThreshold: kind === "internal" ? Infinity : this.options.offSlabThreshold,
      colouring: this.options.colouring,
    });
    let id = this.caches.indexOf(undefined);
    if (id < 0) id = this.caches.length;
    const cache = new SlabCache(
      name,
      kind,
      geometry,
      id,
      this.context,
      geometry.offSlab ? this.headerCache : undefined,
      ctor,
      dtor,
    );
    this.caches[id] = cache;
    return cache;
  }

  private own(cache: SlabCache, operation: string): void {
    if (!(cache instanceof SlabCache) || this.caches[cache.id] !== cache) {
      const name = cache instanceof SlabCache ? `"${cache.name}"` : describeValue(cache);
      throw new AllocatorError(
        "EINVAL",
        `${operation}: cache ${name} is not a live cache of this heap (destroyed, or another heap's)`,
        cache,
      );
    }
  }

  /** Releases every empty slab, user caches first, slab headers last; returns pages. */
  private reapAll(): number {
    let pages = 0;
    for (let id = this.caches.length - 1; id >= 0; id--) pages += this.caches[id]?.reap(0) ?? 0;
    return pages;
  }

  private released(usable: number, requested: number): void {
    this.counters.released(usable, requested);
    this.table.compact();
  }
}
