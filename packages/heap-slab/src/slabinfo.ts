import { formatSize } from "@allockit/core";
import type { HeapStats } from "@allockit/core";
import type { PageRuns } from "./page-runs.js";
import type { CacheKind, SlabCache } from "./slab-cache.js";

/** One row of {@link SlabHeap.slabinfo}: the /proc/slabinfo columns and a few of our own. */
export interface SlabInfoRow {
  name: string;
  /** "kmalloc" (a heap_alloc size class), "cache" (created by the user), "internal" (slab
   * headers) or "page-runs" (heap_alloc's whole-page runs). */
  kind: CacheKind | "page-runs";
  /** Objects handed out. */
  activeObjs: number;
  /** Objects in all slabs, free or not. */
  numObjs: number;
  /** Bytes per object (page runs: average bytes per run). */
  objSize: number;
  objPerSlab: number;
  /** Pages per slab (page runs: average pages per run). */
  pagesPerSlab: number;
  /** Slabs holding at least one object. */
  activeSlabs: number;
  numSlabs: number;
  emptySlabs: number;
  /** Distinct colour offsets of the cache's slabs. */
  colours: number;
  /** Slab headers live outside the slab. */
  offSlab: boolean;
  ctorCalls: number;
  dtorCalls: number;
  slabsCreated: number;
  /** Slabs released to the PageSource (reaped). */
  slabsReaped: number;
}

/** The slabinfo row of a cache. */
export function slabinfoRow(cache: SlabCache): SlabInfoRow {
  const g = cache.geometry;
  return {
    name: cache.name,
    kind: cache.kind,
    activeObjs: cache.activeObjects,
    numObjs: cache.slabs * g.objectsPerSlab,
    objSize: g.objectSize,
    objPerSlab: g.objectsPerSlab,
    pagesPerSlab: g.pagesPerSlab,
    activeSlabs: cache.partialSlabs + cache.fullSlabs,
    numSlabs: cache.slabs,
    emptySlabs: cache.emptySlabs,
    colours: g.colours,
    offSlab: g.offSlab,
    ctorCalls: cache.statistics.ctorCalls,
    dtorCalls: cache.statistics.dtorCalls,
    slabsCreated: cache.statistics.slabsCreated,
    slabsReaped: cache.statistics.slabsReaped,
  };
}

/** The row of heap_alloc's page runs: each run counts as a slab of one object. */
export function pageRunsRow(runs: PageRuns): SlabInfoRow {
  const count = runs.runs;
  return {
    name: "page-runs",
    kind: "page-runs",
    activeObjs: count,
    numObjs: count,
    objSize: count === 0 ? 0 : Math.floor((runs.pages * 4096) / count),
    objPerSlab: 1,
    pagesPerSlab: count === 0 ? 0 : Math.floor(runs.pages / count),
    activeSlabs: count,
    numSlabs: count,
    emptySlabs: 0,
    colours: 1,
    offSlab: true,
    ctorCalls: 0,
    dtorCalls: 0,
    slabsCreated: 0,
    slabsReaped: 0,
  };
}

/** Totals over the caches, for HeapStats.extra: caches, slabs by list, objects, reaped slabs. */
export function cacheTotals(caches: readonly (SlabCache | undefined)[]): Record<string, number> {
  const totals = {
    caches: 0,
    slabs: 0,
    partialSlabs: 0,
    fullSlabs: 0,
    emptySlabs: 0,
    activeObjects: 0,
    reapedSlabs: 0,
  };
  for (const cache of caches) {
    if (cache === undefined) continue;
    totals.caches++;
    totals.slabs += cache.slabs;
    totals.partialSlabs += cache.partialSlabs;
    totals.fullSlabs += cache.fullSlabs;
    totals.emptySlabs += cache.emptySlabs;
    totals.activeObjects += cache.activeObjects;
    totals.reapedSlabs += cache.statistics.slabsReaped;
  }
  return totals;
}

const pad = (value: number | string, width: number): string => String(value).padStart(width);

/** The header lines of the slabinfo text. */
export const SLABINFO_HEADER =
  "slabinfo - version: 2.1\n" +
  "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>" +
  " : tunables <limit> <batchcount> <sharedfactor>" +
  " : slabdata <active_slabs> <num_slabs> <sharedavail>" +
  " : heap-slab <empty_slabs> <colours> <offslab> <ctor_calls> <dtor_calls> <reaped_slabs>";

/** One row as text, /proc/slabinfo's columns (tunables are all 0 here) and ours after them. */
export function formatSlabinfoRow(row: SlabInfoRow): string {
  return (
    `${row.name.padEnd(17)} ${pad(row.activeObjs, 6)} ${pad(row.numObjs, 6)} ${pad(row.objSize, 6)}` +
    ` ${pad(row.objPerSlab, 4)} ${pad(row.pagesPerSlab, 4)}` +
    ` : tunables ${pad(0, 4)} ${pad(0, 4)} ${pad(0, 4)}` +
    ` : slabdata ${pad(row.activeSlabs, 6)} ${pad(row.numSlabs, 6)} ${pad(0, 6)}` +
    ` : heap-slab ${pad(row.emptySlabs, 6)} ${pad(row.colours, 4)} ${row.offSlab ? 1 : 0}` +
    ` ${pad(row.ctorCalls, 8)} ${pad(row.dtorCalls, 8)} ${pad(row.slabsReaped, 6)}`
  );
}

/** The whole text: header, one line per row, and a totals comment from the heap's stats. */
export function formatSlabinfo(rows: readonly SlabInfoRow[], stats: HeapStats): string {
  const extra = stats.extra ?? {};
  const totals =
    `# totals: ${extra.caches ?? 0} caches, ${extra.slabs ?? 0} slabs` +
    ` (${extra.partialSlabs ?? 0} partial, ${extra.fullSlabs ?? 0} full, ${extra.emptySlabs ?? 0} empty),` +
    ` ${extra.activeObjects ?? 0} objects, ${extra.largeRuns ?? 0} page runs (${extra.largeRunPages ?? 0} pages),` +
    ` table ${extra.tablePages ?? 0} pages / ${extra.tableEntries ?? 0} entries,` +
    ` footprint ${formatSize(stats.footprintBytes)}, ${stats.liveBlocks} heap_alloc blocks live`;
  return [SLABINFO_HEADER, ...rows.map(formatSlabinfoRow), totals].join("\n") + "\n";
}
