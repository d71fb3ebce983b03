import {
  AllocatorError,
  alignDown,
  alignUp,
  checkPointer,
  checkSize,
  describeValue,
  effectiveAlign,
  hex,
  pagesFor,
} from "@allockit/core";
import type { Heap, HeapStats, Memory, PageAllocOptions, PageSource } from "@allockit/core";

/** Where a block lives: its own run of pages. */
export interface Placement {
  readonly base: number;
  readonly pages: number;
  readonly ptr: number;
  readonly requested: number;
  readonly usable: number;
}

/**
 * A deliberately simple, correct heap for testing the suite: every block gets its own fresh
 * pages and sits at their end (so pointers are not all page-aligned), and the bookkeeping is a
 * JS Map. Wasteful, but obviously right; the broken heaps of the tests override one piece each.
 */
export class PagePerBlockHeap implements Heap {
  readonly name: string = "page-per-block";
  readonly defaultAlign = 16;
  readonly maxAlign = 65536;
  readonly releasesMemory: boolean = true;
  readonly memory: Memory;
  protected readonly blocks = new Map<number, Placement>();
  /** Pointers freed and not handed out again, to tell a double free from a foreign pointer. */
  protected readonly freed = new Set<number>();
  protected pagesHeld = 0;
  protected liveBytes = 0;
  protected requestedBytes = 0;
  protected peakLiveBytes = 0;
  protected peakPagesHeld = 0;
  protected allocs = 0;
  protected frees = 0;
  protected failedAllocs = 0;

  constructor(protected readonly source: PageSource) {
    this.memory = source.memory;
  }

  heap_alloc(size: number, align = 0): number {
    checkSize(size);
    const alignment = effectiveAlign(align, this.defaultAlign, this.maxAlign);
    const usable = alignUp(Math.max(size, 1), this.defaultAlign);
    const pages = pagesFor(usable);
    const base = this.takePages(
      pages,
      alignment > this.source.pageSize ? { align: alignment } : undefined,
    );
    if (base === 0) {
      this.failedAllocs++;
      return 0;
    }
    const ptr = this.place(base, pages, usable, alignment);
    this.remember({ base, pages, ptr, requested: size, usable });
    return ptr;
  }

  heap_size(ptr: number): number {
    return this.blocks.get(ptr)?.usable ?? 0;
  }

  heap_free(ptr: number): void {
    checkPointer(ptr);
    if (ptr === 0) return;
    const block = this.blocks.get(ptr);
    if (block === undefined) this.reject(ptr);
    this.blocks.delete(ptr);
    this.freed.add(ptr);
    this.liveBytes -= block.usable;
    this.requestedBytes -= block.requested;
    this.frees++;
    this.givePages(block.base, block.pages);
  }

  stats(): HeapStats {
    return {
      liveBlocks: this.blocks.size,
      liveBytes: this.liveBytes,
      requestedBytes: this.requestedBytes,
      peakLiveBytes: this.peakLiveBytes,
      footprintBytes: this.pagesHeld * this.source.pageSize,
      peakFootprintBytes: this.peakPagesHeld * this.source.pageSize,
      allocs: this.allocs,
      frees: this.frees,
      failedAllocs: this.failedAllocs,
    };
  }

  check(): void {
    let liveBytes = 0;
    for (const [ptr, block] of this.blocks) {
      const end = block.base + block.pages * this.source.pageSize;
      if (ptr !== block.ptr || ptr < block.base || ptr + block.usable > end) {
        throw new AllocatorError(
          "ECORRUPT",
          `block ${hex(ptr)} does not fit its pages ${hex(block.base)}..${hex(end)}`,
          ptr,
        );
      }
      liveBytes += block.usable;
    }
    if (liveBytes !== this.liveBytes) {
      throw new AllocatorError(
        "ECORRUPT",
        `live bytes ${this.liveBytes} disagree with the blocks' ${liveBytes}`,
        this.liveBytes,
      );
    }
  }

  /** Ends the block at the end of its pages, rounded down to the alignment. */
  protected place(base: number, pages: number, usable: number, alignment: number): number {
    return alignDown(base + pages * this.source.pageSize - usable, alignment);
  }

  protected takePages(pages: number, options: PageAllocOptions | undefined): number {
    const base = this.source.allocPages(pages, options);
    if (base !== 0) {
      this.pagesHeld += pages;
      this.peakPagesHeld = Math.max(this.peakPagesHeld, this.pagesHeld);
    }
    return base;
  }

  protected givePages(base: number, pages: number): void {
    this.source.freePages(base, pages);
    this.pagesHeld -= pages;
  }

  protected remember(block: Placement): void {
    this.blocks.set(block.ptr, block);
    this.freed.delete(block.ptr);
    this.liveBytes += block.usable;
    this.requestedBytes += block.requested;
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
    this.allocs++;
  }

  protected reject(ptr: number): never {
    if (this.freed.has(ptr)) {
      throw new AllocatorError(
        "EDOUBLEFREE",
        `heap_free: pointer ${describeValue(ptr)} was already freed`,
        ptr,
      );
    }
    throw new AllocatorError(
      "EFAULT",
      `heap_free: pointer ${describeValue(ptr)} was not handed out by ${this.name}`,
      ptr,
    );
  }
}
