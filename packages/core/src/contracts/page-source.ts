import type { Memory } from "./memory.js";
import type { FrameConstraints } from "./pmm.js";

/** Options of a page request. */
export interface PageAllocOptions {
  /** Alignment of the returned virtual address, a power of two >= the page size. */
  align?: number;
  /** Back the pages now instead of on first touch (only meaningful on a demand-paged source). */
  commit?: boolean;
  /**
   * The pages must be physically contiguous and satisfy these frame constraints (DMA buffers).
   * A source that cannot honour it raises EUNSUPPORTED.
   */
  physical?: FrameConstraints;
  /** Fill the pages with zero bytes before returning them. */
  zero?: boolean;
}

/** Counters of a PageSource. */
export interface PageSourceStats {
  pageSize: number;
  /** Pages handed out and not yet returned. */
  pagesInUse: number;
  peakPagesInUse: number;
  /** Upper bound on pagesInUse, or Infinity. */
  pageLimit: number;
  allocCalls: number;
  freeCalls: number;
  /** allocPages calls that returned 0. */
  failedCalls: number;
}

/**
 * What a heap grows from: mmap-style runs of mapped virtual pages. Out of memory returns 0.
 */
export interface PageSource {
  readonly pageSize: number;
  /** The memory the pages are reached through. */
  readonly memory: Memory;
  /** What `physical` constraints this source can honour; absent = none. */
  readonly physicalConstraints?: ReadonlySet<keyof FrameConstraints>;
  /** Hands out `countPages` contiguous virtual pages, or returns 0. */
  allocPages(countPages: number, options?: PageAllocOptions): number;
  /** Returns pages obtained from allocPages (a run may be returned in parts). */
  freePages(addr: number, countPages: number): void;
  /** Physical address behind a virtual one, or -1 when it has none (yet). */
  translate?(addr: number): number;
  stats(): PageSourceStats;
}
