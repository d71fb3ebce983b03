/**
 * @allockit/heap-bucket: the FYSOS bucket allocator (buckets of pebbles). The default export is
 * the plugin manifest; BucketHeap is the heap itself, usable without a container.
 */
export { BucketHeap } from "./bucket-heap.js";
export { ALL_FLAGS, BUCKET_FLAGS, KIND_MASK, flagNames, normalizeFlags } from "./flags.js";
export type { BucketFlagName } from "./flags.js";
export {
  BUCKET_FITS,
  DEFAULT_BUCKET_KIB,
  MAX_BUCKET_KIB,
  MIN_BUCKET_KIB,
  resolveBucketHeapOptions,
} from "./options.js";
export type { BucketFit, BucketHeapOptions, ResolvedBucketHeapOptions } from "./options.js";
export { NAME_MAX } from "./names.js";
export {
  BUCKET_HEADER_BYTES,
  BUCKET_MAGIC,
  FREE_TAG,
  GRANULE,
  MAX_ALIGN,
  PEBBLE_HEADER_BYTES,
  PEBBLE_MAGIC,
  USED_TAG,
} from "./layout.js";
export { default } from "./plugin.js";
