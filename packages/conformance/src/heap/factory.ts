import { FlatMemory, FlatPageSource, MiB } from "@allockit/core";
import type { Heap, PageSource } from "@allockit/core";

/** What the suite asks of a fresh heap. */
export interface HeapEnvironment {
  /**
   * At most this many pages of the heap's page source may be in use at once; undefined means
   * no limit beyond the source's own size. The out-of-memory checks set it; a factory must
   * honour it (the suite verifies `pageSource.stats().pageLimit`).
   */
  readonly pageLimit?: number;
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
  createHeap: (source: FlatPageSource) => Heap,
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
    return { heap: createHeap(pageSource), pageSource, dispose };
  };
}
