import type { Memory } from "./memory.js";

/** Counters every heap reports. Bytes are usable bytes unless the name says otherwise. */
export interface HeapStats {
  /** Live blocks (handed out, not yet freed). */
  liveBlocks: number;
  /** Sum of heap_size over live blocks. */
  liveBytes: number;
  /** Sum of the sizes callers asked for, over live blocks. */
  requestedBytes: number;
  /** Highest liveBytes seen. */
  peakLiveBytes: number;
  /** Bytes currently obtained from the PageSource (pages x page size). */
  footprintBytes: number;
  /** Highest footprintBytes seen. */
  peakFootprintBytes: number;
  /** Successful heap_alloc calls. */
  allocs: number;
  /** heap_free calls that released a block. */
  frees: number;
  /** heap_alloc calls that returned 0. */
  failedAllocs: number;
  /** Heap-specific figures (free blocks, caches, buckets ...). */
  extra?: Record<string, number>;
}

/**
 * The common dynamic memory allocator API.
 *
 * - `heap_alloc(size, align)` returns an address aligned to `align` (0 or 1 = the heap's
 *   default, at least 8) with at least `size` usable bytes, or 0 when memory runs out.
 * - `heap_size(ptr)` returns the usable size (>= the size asked for), or 0 for a pointer this
 *   heap did not hand out (or has taken back).
 * - `heap_free(ptr)` releases a block; `heap_free(0)` does nothing.
 *
 * Bad input (a non-power-of-two alignment; a negative, NaN, fractional or unsafe size; a
 * foreign, interior or freed pointer) throws an {@link AllocatorError} and changes nothing.
 */
export interface Heap {
  /** A short name for reports ("list-heap", "slab", ...). */
  readonly name: string;
  /** The memory the heap's blocks live in; callers read and write their data through it. */
  readonly memory: Memory;
  /** The default (and minimum) alignment of heap_alloc, a power of two >= 8. */
  readonly defaultAlign: number;
  /** The largest alignment accepted; larger ones raise EINVAL. */
  readonly maxAlign: number;
  /** True when the heap gives pages back to its PageSource once they hold no live block. */
  readonly releasesMemory: boolean;
  heap_alloc(size: number, align?: number): number;
  heap_size(ptr: number): number;
  heap_free(ptr: number): void;
  stats(): HeapStats;
  /** Walks every piece of metadata; throws an AllocatorError (ECORRUPT) on any inconsistency. */
  check(): void;
  /**
   * Optional: the heap's metadata as text for a person to read (a bucket heap prints its buckets
   * and pebbles, a slab heap its caches in the manner of /proc/slabinfo). `allockit run --dump`
   * prints it. A dump reads metadata only; it never changes the heap.
   */
  dump?(): string;
}
