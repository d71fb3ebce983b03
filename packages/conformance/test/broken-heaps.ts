import { AllocatorError, alignUp, effectiveAlign } from "@allockit/core";
import type { PageAllocOptions } from "@allockit/core";
import { PagePerBlockHeap } from "./reference-heap.js";

/**
 * Heaps with one deliberate bug each, for showing that the suite catches it. Each overrides a
 * single piece of the correct {@link PagePerBlockHeap}.
 */

/** Every fourth allocation hands out a live block again (a free list that forgot a block is live). */
export class ReusesLiveBlockHeap extends PagePerBlockHeap {
  override readonly name = "reuses-live-block";
  private calls = 0;

  override heap_alloc(size: number, align = 0): number {
    const alignment = effectiveAlign(align, this.defaultAlign, this.maxAlign);
    if (++this.calls % 4 === 0) {
      for (const block of this.blocks.values()) {
        if (block.usable >= size && block.ptr % alignment === 0) {
          // Bookkeeping as if it were a new block; the live one is still in use by its owner.
          this.allocs++;
          return block.ptr;
        }
      }
    }
    return super.heap_alloc(size, align);
  }
}

/** Ignores the alignment argument: blocks are only 16-byte aligned. */
export class IgnoresAlignmentHeap extends PagePerBlockHeap {
  override readonly name = "ignores-alignment";

  protected override place(base: number, pages: number, usable: number): number {
    return base + pages * this.source.pageSize - usable;
  }

  protected override takePages(pages: number): number {
    return super.takePages(pages, undefined);
  }
}

/**
 * Keeps a "live count" header where it believes its metadata lives, but computes the address
 * as the oldest block's pointer instead of 8 bytes below it: metadata written into user data.
 */
export class MetadataInUserDataHeap extends PagePerBlockHeap {
  override readonly name = "metadata-in-user-data";

  override heap_alloc(size: number, align = 0): number {
    const ptr = super.heap_alloc(size, align);
    this.writeHeader();
    return ptr;
  }

  override heap_free(ptr: number): void {
    super.heap_free(ptr);
    this.writeHeader();
  }

  private writeHeader(): void {
    const oldest = this.blocks.values().next();
    if (oldest.done === true || oldest.value.usable < 4) return;
    this.memory.write32(oldest.value.ptr, 0xa110c000 + this.blocks.size);
  }
}

/** heap_free of an already-freed pointer returns quietly (no double-free detection). */
export class SilentDoubleFreeHeap extends PagePerBlockHeap {
  override readonly name = "silent-double-free";

  override heap_free(ptr: number): void {
    if (this.freed.has(ptr)) return;
    super.heap_free(ptr);
  }
}

/** heap_size reports 32 bytes more than the block has. */
export class LyingSizeHeap extends PagePerBlockHeap {
  override readonly name = "lying-size";

  override heap_size(ptr: number): number {
    const size = super.heap_size(ptr);
    return size === 0 ? 0 : size + 32;
  }
}

/** heap_size answers for interior pointers too (a lookup by containing block, not by start). */
export class InteriorSizeHeap extends PagePerBlockHeap {
  override readonly name = "interior-size";

  override heap_size(ptr: number): number {
    for (const block of this.blocks.values()) {
      if (ptr >= block.ptr && ptr < block.ptr + block.usable) return block.usable;
    }
    return 0;
  }
}

/** Claims releasesMemory but keeps the last page of every multi-page block. */
export class LeaksPagesHeap extends PagePerBlockHeap {
  override readonly name = "leaks-pages";

  protected override givePages(base: number, pages: number): void {
    // Counts the kept page in its footprint, honestly; it just never gives it back.
    super.givePages(base, pages === 1 ? 1 : pages - 1);
  }
}

/** Once its page source refuses a request, it never asks again: out of memory forever. */
export class StickyOutOfMemoryHeap extends PagePerBlockHeap {
  override readonly name = "sticky-out-of-memory";
  private exhausted = false;

  protected override takePages(pages: number, options: PageAllocOptions | undefined): number {
    if (this.exhausted) return 0;
    const base = super.takePages(pages, options);
    if (base === 0) this.exhausted = true;
    return base;
  }
}

/** Throws ENOMEM instead of returning 0 when its page source runs out. */
export class ThrowsWhenExhaustedHeap extends PagePerBlockHeap {
  override readonly name = "throws-when-exhausted";

  protected override takePages(pages: number, options: PageAllocOptions | undefined): number {
    const base = super.takePages(pages, options);
    if (base === 0) throw new AllocatorError("ENOMEM", `out of pages for ${pages} page(s)`, pages);
    return base;
  }
}

/** Skips argument validation: a fractional size or odd alignment is silently rounded. */
export class UncheckedArgumentsHeap extends PagePerBlockHeap {
  override readonly name = "unchecked-arguments";

  override heap_alloc(size: number, align = 0): number {
    const roundedSize = Number.isFinite(size) && size > 0 ? Math.ceil(size) : 0;
    const roundedAlign = align > 1 && Number.isFinite(align) ? 2 ** Math.ceil(Math.log2(align)) : 0;
    return super.heap_alloc(Math.min(roundedSize, 1 << 20), Math.min(roundedAlign, this.maxAlign));
  }
}

/** Forgets to count frees in stats().liveBlocks. */
export class MiscountingHeap extends PagePerBlockHeap {
  override readonly name = "miscounting";
  private forgotten = 0;

  override heap_free(ptr: number): void {
    const known = this.heap_size(ptr) !== 0;
    super.heap_free(ptr);
    if (known) this.forgotten++;
  }

  override stats() {
    const stats = super.stats();
    return { ...stats, liveBlocks: stats.liveBlocks + this.forgotten };
  }
}

/** Rounds usable sizes down instead of up for sizes just past the default alignment. */
export class ShortBlockHeap extends PagePerBlockHeap {
  override readonly name = "short-block";

  override heap_alloc(size: number, align = 0): number {
    const ptr = super.heap_alloc(size, align);
    if (ptr !== 0 && size % this.defaultAlign !== 0) {
      // Pretend the block is one alignment unit shorter than it is.
      const block = this.blocks.get(ptr)!;
      const usable = alignUp(size, this.defaultAlign) - this.defaultAlign;
      this.blocks.set(ptr, { ...block, usable });
      this.liveBytes -= block.usable - usable;
    }
    return ptr;
  }
}

/**
 * Takes a header page before each block's own pages and, when the block's pages are refused,
 * forgets to give the header page back: only a failure between the two requests shows it.
 */
export class LeaksOnFailedGrowthHeap extends PagePerBlockHeap {
  override readonly name = "leaks-on-failed-growth";
  private readonly headerPages = new Map<number, number>();

  protected override takePages(pages: number, options: PageAllocOptions | undefined): number {
    const header = super.takePages(1, undefined);
    if (header === 0) return 0;
    const base = super.takePages(pages, options);
    if (base === 0) return 0;
    this.headerPages.set(base, header);
    return base;
  }

  protected override givePages(base: number, pages: number): void {
    super.givePages(base, pages);
    const header = this.headerPages.get(base);
    this.headerPages.delete(base);
    if (header !== undefined) super.givePages(header, 1);
  }
}
