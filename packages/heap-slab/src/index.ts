/**
 * @allockit/heap-slab: Bonwick's slab allocator with kmalloc-style size classes. The default
 * export is the plugin manifest; SlabHeap is the heap itself, usable without a container.
 */
export { SlabHeap } from "./slab-heap.js";
export type { SlabCacheOptions } from "./cache-arguments.js";
export { SlabCache } from "./slab-cache.js";
export type { CacheKind, ObjectCallback, SlabCacheStatistics } from "./slab-cache.js";
export type { SlabGeometry } from "./geometry.js";
export {
  DEFAULT_KEEP_EMPTY_SLABS,
  DEFAULT_OFF_SLAB_THRESHOLD,
  MAX_KEEP_EMPTY_SLABS,
  MAX_OFF_SLAB_THRESHOLD,
  MIN_OFF_SLAB_THRESHOLD,
  resolveSlabHeapOptions,
} from "./options.js";
export type { ResolvedSlabHeapOptions, SlabHeapOptions } from "./options.js";
export { LARGEST_CLASS, SIZE_CLASSES } from "./size-classes.js";
export { SLABINFO_HEADER, formatSlabinfo, formatSlabinfoRow } from "./slabinfo.js";
export type { SlabInfoRow } from "./slabinfo.js";
export { MAX_CACHE_ALIGN, MAX_OBJECT_SIZE, MAX_SLAB_PAGES } from "./layout.js";
export { default } from "./plugin.js";
