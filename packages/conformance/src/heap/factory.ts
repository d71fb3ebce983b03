import { FailingPageSource, FlatMemory, FlatPageSource, MiB } from "@allockit/core";
import type { Heap, PageSource, VirtualMemoryManager } from "@allockit/core";

/** What the suite asks of a fresh heap. */
export interface HeapEnvironment {
  /**
   * At most this many pages of the heap's page source may be in use at once; undefined means
   * no limit beyond the source's own size. The out-of-memory checks set it; a factory must
   * honour it (the suite verifies `pageSource.stats().pageLimit`).
   */
  readonly pageLimit?: number;
  /**
   * Set by the failure-injection checks: the factory must pass its page source through this
   * before handing it to the heap, and return the result as `pageSource` (the suite wraps the
   * source in a {@link FailingPageSource} to make chosen requests fail).
   */
  readonly wrapPageSource?: (source: PageSource) => PageSource;
}

/** A heap to test and, when it grows from one, the page source behind it. */
export interface HeapUnderTest {
  readonly heap: Heap;
  /**
   * The source the heap takes its pages from. Without it the suite cannot run the
   * out-of-memory and page-release checks, and treats any 0 from heap_alloc as a failure.
   */
  readonly pageSource?: PageSource;
  /**
   * Called once the suite is done with this heap and will not touch it again, so a factory
   * can recycle the memory behind it (thousands of heaps are built per suite).
   */
  readonly dispose?: () => void;
}

/**
 * Builds a fresh, empty heap each time it is called (the suite calls it once per random
 * sequence, so it must not share state between calls).
 */
export type HeapFactory = (env: HeapEnvironment) => HeapUnderTest;

export interface FlatHeapFactoryOptions {
  /** Size of each fresh flat memory; the default leaves ample room for the suite's runs. */
  memoryBytes?: number;
  /** Address of the first byte of the flat memory. */
  base?: number;
}

/** Enough for the random sequences (a few hundred KiB live at most) with room to fragment. */
export const DEFAULT_FLAT_MEMORY_BYTES = 8 * MiB;

/** Disposed memories kept for reuse; the suite has at most two heaps alive at once. */
const IDLE_MEMORIES_KEPT = 4;

/**
 * The usual factory for a heap whose constructor takes a PageSource: every call builds a fresh
 * {@link FlatMemory} and a {@link FlatPageSource} over it (with the environment's page limit)
 * and hands the source to `createHeap`. Memories of disposed heaps are zeroed and reused,
 * because allocating megabytes of ArrayBuffer per run would dominate the suite's runtime;
 * zeroing keeps every heap's start identical, so a failing seed replays exactly.
 *
 * @example heapConformance("my-heap", flatHeapFactory((source) => new MyHeap(source)));
 */
export function flatHeapFactory(
  createHeap: (source: PageSource) => Heap,
  options: FlatHeapFactoryOptions = {},
): HeapFactory {
  const memoryBytes = options.memoryBytes ?? DEFAULT_FLAT_MEMORY_BYTES;
  const base = options.base ?? 0;
  const idle: FlatMemory[] = [];
  return (env) => {
    const memory = idle.pop() ?? new FlatMemory(memoryBytes, base);
    const pageSource = new FlatPageSource(
      memory,
      env.pageLimit === undefined ? {} : { pageLimit: env.pageLimit },
    );
    let disposed = false;
    const dispose = (): void => {
      if (disposed) return;
      disposed = true;
      if (idle.length >= IDLE_MEMORIES_KEPT) return;
      memory.fill(memory.base, 0, memory.size);
      idle.push(memory);
    };
    const source = env.wrapPageSource?.(pageSource) ?? pageSource;
    return { heap: createHeap(source), pageSource: source, dispose };
  };
}

export interface VmmHeapFactoryOptions {
  /**
   * Boots the system the heaps run on and returns its VMM (paging on, kernel space loaded).
   * Called once, on the factory's first use; every heap then gets a fresh heap region of the
   * kernel space, unmapped again when the suite disposes of the heap.
   */
  boot: () => VirtualMemoryManager;
  /** Initial size of each heap region in bytes (default 1 MiB); regions grow brk-style. */
  regionBytes?: number;
}

/** What the VMM-backed factory maps for each heap by default. */
export const DEFAULT_HEAP_REGION_BYTES = MiB;

/**
 * The factory for heaps on the machine: every call maps a fresh heap region in the kernel
 * address space of a VMM (booted once) and hands its PageSource to `createHeap`, so the heap's
 * metadata and data go through page tables, the MMU and the TLB, and its pages are frames from
 * the PMM. The page limit of the out-of-memory checks is applied by a {@link FailingPageSource}
 * around the region's source. Disposing of a heap unmaps its region, returning every frame.
 *
 * @example
 * heapConformance("my-heap on the machine", vmmHeapFactory((source) => new MyHeap(source), {
 *   boot: () => bootTestSystem().vmm,
 * }));
 */
export function vmmHeapFactory(
  createHeap: (source: PageSource) => Heap,
  options: VmmHeapFactoryOptions,
): HeapFactory {
  const regionBytes = options.regionBytes ?? DEFAULT_HEAP_REGION_BYTES;
  let vmm: VirtualMemoryManager | undefined;
  return (env) => {
    vmm ??= options.boot();
    const space = vmm.kernelSpace;
    const start = space.map({ kind: "heap", sizeBytes: regionBytes, name: "conformance heap" });
    const regionSource = space.pageSource(start);
    const limited =
      env.pageLimit === undefined
        ? regionSource
        : new FailingPageSource(regionSource, { pageLimit: env.pageLimit });
    const source = env.wrapPageSource?.(limited) ?? limited;
    let disposed = false;
    const dispose = (): void => {
      if (disposed || space.destroyed) return;
      disposed = true;
      // The region may have grown (brk) since it was mapped.
      const region = space.regionAt(start);
      if (region !== undefined) space.unmap(start, region.sizeBytes);
    };
    try {
      return { heap: createHeap(source), pageSource: source, dispose };
    } catch (error) {
      dispose();
      throw error;
    }
  };
}
