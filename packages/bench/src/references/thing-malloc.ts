import { MemPool } from "@thi.ng/malloc";
import {
  FlatMemory,
  HeapCounters,
  checkSize,
  effectiveAlign,
  type Heap,
  type HeapStats,
} from "@allockit/core";

/** Bytes of @thi.ng/malloc's block header (size and next, two 32-bit words) before each block. */
const BLOCK_HEADER = 8;
/** The pool's alignment, the same default as the other heaps of the trace table. */
const POOL_ALIGN = 16;

/** MemPool with the two facts the replay harness needs: a block's size and the pool's top. */
class MeasuredPool extends MemPool {
  /** Usable bytes of the block at data address `ptr`. */
  usable(ptr: number): number {
    return this.blockSize(ptr - BLOCK_HEADER) - BLOCK_HEADER;
  }

  /** End of the highest block ever carved out of the pool (its footprint). */
  get high(): number {
    return this.top;
  }
}

/**
 * `@thi.ng/malloc`'s MemPool (the TypeScript malloc over one ArrayBuffer: first fit on a free
 * list kept in address order, with the used blocks on a second list) behind the Heap contract,
 * so the trace table replays it on the same harness as the plugins. Its pool aligns every block
 * to 16 bytes and has no per-call alignment: a request asking for more fails (returns 0, a
 * counted failure), which the sample trace never does.
 */
export class ThingMalloc implements Heap {
  readonly name = "thi.ng";
  readonly memory: FlatMemory;
  readonly defaultAlign = POOL_ALIGN;
  readonly maxAlign = POOL_ALIGN;
  readonly releasesMemory = true;
  private readonly pool: MeasuredPool;
  private readonly start: number;
  private peakTop = 0;
  private readonly counters = new HeapCounters();

  constructor(sizeBytes: number) {
    const buf = new ArrayBuffer(sizeBytes);
    this.pool = new MeasuredPool({ buf, align: POOL_ALIGN });
    this.start = this.pool.high;
    this.peakTop = this.start;
    this.memory = new FlatMemory(buf);
  }

  heap_alloc(size: number, align?: number): number {
    checkSize(size);
    if (align !== undefined && align > POOL_ALIGN) {
      this.counters.failed();
      return 0;
    }
    effectiveAlign(align, this.defaultAlign, this.maxAlign);
    const ptr = this.pool.malloc(Math.max(size, 1));
    if (ptr === 0) {
      this.counters.failed();
      return 0;
    }
    const top = this.pool.high;
    if (top > this.peakTop) this.peakTop = top;
    const usable = this.pool.usable(ptr);
    this.counters.allocated(usable, usable);
    return ptr;
  }

  heap_size(ptr: number): number {
    return ptr === 0 ? 0 : this.pool.usable(ptr);
  }

  heap_free(ptr: number): void {
    if (ptr === 0) return;
    const usable = this.pool.usable(ptr);
    if (!this.pool.free(ptr)) return;
    this.counters.released(usable, usable);
  }

  /** Footprint: the pool's top (every block it ever carved lies below it), in bytes. */
  stats(): HeapStats {
    const footprint = this.pool.high - this.start;
    return this.counters.stats(footprint, this.peakTop - this.start);
  }

  check(): void {}
}
