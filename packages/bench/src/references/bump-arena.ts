import {
  FlatMemory,
  HeapCounters,
  PAGE_SIZE,
  checkSize,
  effectiveAlign,
  type Heap,
  type HeapStats,
} from "@allockit/core";

/** Bytes before each block holding its size, so heap_size (and realloc) can answer. */
const HEADER = 8;

/**
 * The speed limit of the trace tables: a bump pointer through one flat memory that never
 * frees. heap_alloc is an add and a header write; heap_free does nothing. It validates nothing
 * beyond the size and alignment, keeps no lists, and its footprint only grows, so it bounds what
 * any heap could reach on the same replay harness; it is a reference, not an allocator to use.
 */
export class BumpArena implements Heap {
  readonly name = "bump-arena";
  readonly memory: FlatMemory;
  readonly defaultAlign = 16;
  readonly maxAlign = PAGE_SIZE;
  readonly releasesMemory = false;
  private next: number;
  private readonly end: number;
  private readonly counters = new HeapCounters();

  constructor(sizeBytes: number) {
    this.memory = new FlatMemory(sizeBytes);
    this.next = PAGE_SIZE;
    this.end = sizeBytes;
  }

  heap_alloc(size: number, align?: number): number {
    checkSize(size);
    const alignment = effectiveAlign(align, this.defaultAlign, this.maxAlign);
    const ptr = Math.ceil((this.next + HEADER) / alignment) * alignment;
    const usable = Math.max(size, 1);
    if (ptr + usable > this.end) {
      this.counters.failed();
      return 0;
    }
    this.memory.write32(ptr - HEADER, usable);
    this.next = ptr + usable;
    this.counters.allocated(usable, usable);
    return ptr;
  }

  heap_size(ptr: number): number {
    return ptr >= PAGE_SIZE + HEADER && ptr < this.next ? this.memory.read32(ptr - HEADER) : 0;
  }

  heap_free(ptr: number): void {
    if (ptr === 0) return;
    const usable = this.heap_size(ptr);
    this.counters.released(usable, usable);
  }

  stats(): HeapStats {
    const footprint = Math.ceil(this.next / PAGE_SIZE) * PAGE_SIZE;
    return this.counters.stats(footprint, footprint);
  }

  check(): void {}
}
