import { AllocatorError, hex } from "@allockit/core";
import type { Memory } from "@allockit/core";
import {
  KIND_PAGE_SLAB,
  KIND_SLAB,
  LIST_EMPTY,
  LIST_FULL,
  LIST_PARTIAL,
  PAGE_SIZE,
  SLAB_MAGIC,
  S_BASE,
  S_CACHE,
  S_COLOUR,
  S_FREE,
  S_FRESH,
  S_IN_USE,
  S_LIST,
  S_MAGIC,
  S_OBJECTS,
  S_PAGES,
} from "./layout.js";
import type { PageOwnerTable } from "./page-owners.js";
import type { PageRuns } from "./page-runs.js";
import type { PageSupply } from "./page-supply.js";
import { read64 } from "./ram.js";
import type { SlabCache } from "./slab-cache.js";
import { bufctlOf, firstObject, getRequested, isAllocated, nextSlab, prevSlab } from "./slab.js";

/** What check() looks at. */
export interface SlabHeapState {
  readonly memory: Memory;
  readonly caches: readonly (SlabCache | undefined)[];
  readonly headerCache: SlabCache;
  readonly table: PageOwnerTable;
  readonly runs: PageRuns;
  readonly supply: PageSupply;
  readonly liveBlocks: number;
  readonly liveBytes: number;
  readonly requestedBytes: number;
}

const LISTS = [LIST_PARTIAL, LIST_FULL, LIST_EMPTY] as const;
const LIST_NAMES = ["", "partial", "full", "empty"];

function corrupt(what: string, at: number): never {
  throw new AllocatorError("ECORRUPT", `heap-slab: ${what} (at ${hex(at)})`, at);
}

/**
 * Walks all metadata: the ownership table's structure; every cache's three lists (links both
 * ways, lengths); every slab's header, pages, colour, bitmap, free list (bounds, boundaries,
 * cycles, count) and requested sizes; then cross-checks the table against the slabs and runs,
 * and the heap's counters and footprint against what was walked. Throws ECORRUPT.
 */
export function checkSlabHeap(state: SlabHeapState): void {
  const { table, runs, supply } = state;
  table.verify();
  let slabPages = 0;
  let offSlabSlabs = 0;
  let kmallocLive = 0;
  let kmallocBytes = 0;
  let kmallocRequested = 0;
  state.caches.forEach((cache, id) => {
    if (cache === undefined) return;
    if (cache.id !== id) corrupt(`cache "${cache.name}" has id ${cache.id} in slot ${id}`, id);
    const requested = checkCache(state, cache);
    slabPages += cache.slabs * cache.geometry.pagesPerSlab;
    if (cache.geometry.offSlab) offSlabSlabs += cache.slabs;
    if (cache.kind === "kmalloc") {
      kmallocLive += cache.activeObjects;
      kmallocBytes += cache.activeObjects * cache.objectSize;
      kmallocRequested += requested;
    }
  });

  let slabEntries = 0;
  let runEntries = 0;
  let runPages = 0;
  let runRequested = 0;
  table.forEach((entry) => {
    if (table.isSlabEntry(entry)) {
      slabEntries++;
    } else {
      runEntries++;
      const pages = table.runPages(entry);
      if (pages < 1 || table.runRequested(entry) > pages * PAGE_SIZE)
        corrupt(`page run entry: ${pages} pages for ${table.runRequested(entry)} bytes`, entry);
      runPages += pages;
      runRequested += table.runRequested(entry);
    }
  });
  if (slabEntries !== slabPages)
    corrupt(`the table maps ${slabEntries} slab pages, the caches hold ${slabPages}`, table.base);
  if (runEntries !== runs.runs || runPages !== runs.pages || runRequested !== runs.requestedBytes) {
    corrupt(
      `the table records ${runEntries} page runs / ${runPages} pages / ${runRequested} bytes, counted ${runs.runs} / ${runs.pages} / ${runs.requestedBytes}`,
      table.base,
    );
  }
  if (state.headerCache.activeObjects !== offSlabSlabs) {
    corrupt(
      `${state.headerCache.activeObjects} off-slab headers allocated for ${offSlabSlabs} off-slab slabs`,
      table.base,
    );
  }
  if (supply.pagesHeld !== table.pages + slabPages + runs.pages) {
    corrupt(
      `${supply.pagesHeld} pages held, but table ${table.pages} + slabs ${slabPages} + runs ${runs.pages}`,
      table.base,
    );
  }
  if (
    state.liveBlocks !== kmallocLive + runs.runs ||
    state.liveBytes !== kmallocBytes + runs.pages * PAGE_SIZE ||
    state.requestedBytes !== kmallocRequested + runs.requestedBytes
  ) {
    corrupt(
      `live counters (${state.liveBlocks} blocks / ${state.liveBytes} B / ${state.requestedBytes} B asked) do not match the caches and runs`,
      table.base,
    );
  }
}

/** Checks a cache's lists and slabs; returns the requested bytes of its live objects. */
function checkCache(state: SlabHeapState, cache: SlabCache): number {
  const memory = state.memory;
  let active = 0;
  let requested = 0;
  for (const list of LISTS) {
    const length = cache.listLength(list);
    let count = 0;
    let prev = 0;
    for (let slab = cache.listHead(list); slab !== 0; slab = nextSlab(memory, slab)) {
      const where = `cache "${cache.name}" ${LIST_NAMES[list]} list`;
      if (++count > length) corrupt(`${where} is longer than its ${length} slabs (a loop?)`, slab);
      if (!isSlabHeaderAddress(state, cache, slab))
        corrupt(`${where} links to ${hex(slab)}, which is not a slab header`, prev);
      if (prevSlab(memory, slab) !== prev) corrupt(`${where}: broken prev link`, slab);
      const [inUse, sum] = checkSlab(state, cache, slab, list);
      active += inUse;
      requested += sum;
      prev = slab;
    }
    if (count !== length)
      corrupt(
        `cache "${cache.name}" ${LIST_NAMES[list]} list holds ${count} of ${length} slabs`,
        prev,
      );
  }
  if (active !== cache.activeObjects) {
    corrupt(
      `cache "${cache.name}" counts ${cache.activeObjects} active objects, its slabs hold ${active}`,
      cache.listHead(LIST_PARTIAL),
    );
  }
  return requested;
}

/** True when `slab` can be read as a header of `cache`: found through the table. */
function isSlabHeaderAddress(state: SlabHeapState, cache: SlabCache, slab: number): boolean {
  const { table, memory } = state;
  const entry = table.find(Math.floor(slab / PAGE_SIZE));
  if (entry === 0 || !table.isSlabEntry(entry)) return false;
  const owner = table.slabOf(entry);
  if (!cache.geometry.offSlab) return owner === slab;
  // An off-slab header is a live object of the slab-header cache.
  const headers = state.headerCache;
  if (
    memory.read32(owner + S_MAGIC) !== SLAB_MAGIC ||
    memory.read32(owner + S_CACHE) !== headers.id
  )
    return false;
  const index = (slab - firstObject(memory, owner)) / headers.geometry.stride;
  return (
    Number.isInteger(index) &&
    index >= 0 &&
    index < headers.geometry.objectsPerSlab &&
    isAllocated(memory, headers.geometry, owner, index)
  );
}

/** Checks one slab; returns [objects in use, requested bytes of those objects]. */
function checkSlab(
  state: SlabHeapState,
  cache: SlabCache,
  slab: number,
  list: number,
): [number, number] {
  const { memory, table } = state;
  const g = cache.geometry;
  const n = g.objectsPerSlab;
  const bad = (what: string): never =>
    corrupt(`slab ${hex(slab)} of cache "${cache.name}": ${what}`, slab);
  if (memory.read32(slab + S_MAGIC) !== SLAB_MAGIC)
    bad(`magic ${hex(memory.read32(slab + S_MAGIC))}`);
  if (memory.read32(slab + S_CACHE) !== cache.id)
    bad(`cache field ${memory.read32(slab + S_CACHE)}`);
  if (memory.read32(slab + S_LIST) !== list) bad(`list field ${memory.read32(slab + S_LIST)}`);
  if (memory.read32(slab + S_PAGES) !== g.pagesPerSlab || memory.read32(slab + S_OBJECTS) !== n)
    bad("page or object count field");
  const base = read64(memory, slab + S_BASE);
  if (base % PAGE_SIZE !== 0 || (!g.offSlab && base + g.headerOffset !== slab))
    bad(`base ${hex(base)}`);
  const colour = memory.read32(slab + S_COLOUR);
  if (colour % g.align !== 0 || colour > g.slackBytes) bad(`colour ${colour}`);
  const kind = g.offSlab ? KIND_SLAB : KIND_PAGE_SLAB;
  for (let page = 0; page < g.pagesPerSlab; page++) {
    const entry = table.find(base / PAGE_SIZE + page);
    if (entry === 0 || table.kindOf(entry) !== kind || table.slabOf(entry) !== slab)
      bad(`page ${hex(base + page * PAGE_SIZE)} is not mapped to it in the ownership table`);
  }
  const inUse = memory.read32(slab + S_IN_USE);
  const fresh = memory.read32(slab + S_FRESH);
  if (fresh > n || inUse > fresh) bad(`${inUse} objects in use, ${fresh} ever handed out, of ${n}`);
  const wanted = inUse === 0 ? LIST_EMPTY : inUse === n ? LIST_FULL : LIST_PARTIAL;
  if (wanted !== list) bad(`${inUse} of ${n} objects in use, but on the ${LIST_NAMES[list]} list`);

  let allocated = 0;
  let requested = 0;
  for (let word = 0; word * 32 < n; word++) {
    let bits = memory.read32(slab + g.bitmapOffset + word * 4);
    while (bits !== 0) {
      const low = bits & -bits;
      const index = word * 32 + 31 - Math.clz32(low);
      if (index >= fresh) bad(`object ${index} is marked allocated but was never handed out`);
      allocated++;
      if (g.requestedWidth !== 0) {
        const size = getRequested(memory, g, slab, index);
        if (size > g.objectSize) bad(`object ${index} records ${size} bytes asked`);
        requested += size;
      }
      bits = (bits ^ low) >>> 0;
    }
  }
  if (allocated !== inUse) bad(`${allocated} objects marked allocated, ${inUse} counted`);

  // Objects below `fresh` that are not allocated must all be on the free list, once each.
  const free = fresh - inUse;
  let steps = 0;
  const visit = (index: number): void => {
    if (++steps > free) bad(`free list is longer than its ${free} free objects (a cycle?)`);
    if (!(index >= 0 && index < fresh))
      bad(`free-list link to object ${index} is not a handed-out object of the slab`);
    if (isAllocated(memory, g, slab, index)) bad(`free-list object ${index} is allocated`);
  };
  for (let index = memory.read32(slab + S_FREE); index !== g.noIndex;) {
    visit(index);
    index = bufctlOf(memory, g, slab, index);
  }
  if (steps !== free) bad(`free list holds ${steps} of ${free} free objects`);
  return [inUse, requested];
}
