import type { Memory, PageSource } from "@allockit/core";
import { PAGE_SIZE } from "./layout.js";

/**
 * The heap's one door to its PageSource: every page it holds (slabs, page runs, the ownership
 * table) comes and goes through here, so the footprint is counted in one place. When the
 * source returns 0, the supply reaps the empty slabs of every cache and, if that gave pages
 * back, asks once more.
 */
export class PageSupply {
  readonly memory: Memory;
  /** Pages currently obtained from the source. */
  pagesHeld = 0;
  peakPagesHeld = 0;
  /** Page requests the source refused, counting retries. */
  refusedRequests = 0;
  /** Times an out-of-memory reap ran. */
  pressureReaps = 0;

  constructor(
    private readonly source: PageSource,
    /** Releases every empty slab of every cache; returns the pages released. */
    private readonly reapAll: () => number,
  ) {
    this.memory = source.memory;
  }

  /**
   * `countPages` pages aligned to `align` bytes (at least a page), or 0. Reaps and retries once
   * when the source is out of memory.
   */
  grab(countPages: number, align: number): number {
    let addr = this.grabOnce(countPages, align);
    if (addr === 0) {
      this.pressureReaps++;
      if (this.reapAll() > 0) addr = this.grabOnce(countPages, align);
    }
    return addr;
  }

  /** Like grab, without reaping: for requests that may fail harmlessly (shrinking a table). */
  grabOnce(countPages: number, align: number): number {
    const addr =
      align > PAGE_SIZE
        ? this.source.allocPages(countPages, { align })
        : this.source.allocPages(countPages);
    if (addr === 0) {
      this.refusedRequests++;
      return 0;
    }
    this.pagesHeld += countPages;
    if (this.pagesHeld > this.peakPagesHeld) this.peakPagesHeld = this.pagesHeld;
    return addr;
  }

  release(addr: number, countPages: number): void {
    this.source.freePages(addr, countPages);
    this.pagesHeld -= countPages;
  }
}
