import { PAGE_SIZE, hex, isPowerOfTwo } from "./address.js";
import type { FrameConstraints } from "./contracts/pmm.js";
import { DEFAULT_ZONE_LIMITS } from "./contracts/pmm.js";
import type { PageAllocOptions, PageSource, PageSourceStats } from "./contracts/page-source.js";
import { AllocatorError, describeValue } from "./errors.js";
import { FlatMemory } from "./flat-memory.js";
import { checkCount, checkPageLimit } from "./validate.js";

export interface FlatPageSourceOptions {
  /** At most this many pages in use at once; allocPages returns 0 beyond it (OOM tests). */
  pageLimit?: number;
}

const ALL_CONSTRAINTS: ReadonlySet<keyof FrameConstraints> = new Set([
  "zone",
  "below",
  "align",
  "boundary",
]);

/**
 * Hands out pages of a {@link FlatMemory}. Flat memory is identity-mapped, so every run is
 * physically contiguous and physical constraints (below, align, boundary, zone) are honoured
 * on the address itself. The page at address 0 is never handed out, so 0 means failure.
 *
 * State: one bit per page in a Uint32Array (1 = in use), a next-fit hint and counters.
 */
export class FlatPageSource implements PageSource {
  readonly pageSize = PAGE_SIZE;
  readonly memory: FlatMemory;
  readonly physicalConstraints = ALL_CONSTRAINTS;
  readonly pageLimit: number;
  private readonly firstPage: number;
  private readonly totalPages: number;
  private readonly used: Uint32Array;
  private hint = 0;
  private pagesInUse = 0;
  private peakPagesInUse = 0;
  private allocCalls = 0;
  private freeCalls = 0;
  private failedCalls = 0;

  constructor(memory: FlatMemory, options: FlatPageSourceOptions = {}) {
    this.memory = memory;
    this.pageLimit = checkPageLimit(options.pageLimit);
    // Pages must start page-aligned; the page at address 0 is skipped.
    const firstAddress = Math.max(Math.ceil(memory.base / PAGE_SIZE) * PAGE_SIZE, PAGE_SIZE);
    this.firstPage = firstAddress / PAGE_SIZE;
    const endPage = Math.floor((memory.base + memory.size) / PAGE_SIZE);
    this.totalPages = Math.max(0, endPage - this.firstPage);
    this.used = new Uint32Array(Math.ceil(this.totalPages / 32) + 1);
  }

  /** Pages this source can hand out in all. */
  get capacityPages(): number {
    return this.totalPages;
  }

  allocPages(countPages: number, options?: PageAllocOptions): number {
    checkCount(countPages, "page count");
    let alignPages = 1;
    let limitPage = this.totalPages;
    let boundaryPages = 0;
    if (options !== undefined) {
      if (options.align !== undefined) alignPages = this.pagesOfAlignment(options.align, "align");
      if (options.physical !== undefined) {
        const c = options.physical;
        if (c.align !== undefined)
          alignPages = Math.max(alignPages, this.pagesOfAlignment(c.align, "physical.align"));
        if (c.boundary !== undefined)
          boundaryPages = this.pagesOfAlignment(c.boundary, "physical.boundary");
        let below = c.below ?? Infinity;
        if (c.zone === "DMA") below = Math.min(below, DEFAULT_ZONE_LIMITS.DMA);
        else if (c.zone === "DMA32") below = Math.min(below, DEFAULT_ZONE_LIMITS.DMA32);
        if (below !== Infinity)
          limitPage = Math.min(limitPage, Math.floor(below / PAGE_SIZE) - this.firstPage);
      }
    }
    this.allocCalls++;
    if (this.pagesInUse + countPages > this.pageLimit || countPages > limitPage) {
      this.failedCalls++;
      return 0;
    }
    const unconstrained = alignPages === 1 && boundaryPages === 0 && limitPage === this.totalPages;
    let index = unconstrained ? this.findRun(countPages, this.hint, limitPage, 1, 0) : -1;
    if (index < 0) index = this.findRun(countPages, 0, limitPage, alignPages, boundaryPages);
    if (index < 0) {
      this.failedCalls++;
      return 0;
    }
    for (let i = index; i < index + countPages; i++) this.used[i >>> 5]! |= 1 << (i & 31);
    this.hint = index + countPages;
    this.pagesInUse += countPages;
    if (this.pagesInUse > this.peakPagesInUse) this.peakPagesInUse = this.pagesInUse;
    const addr = (this.firstPage + index) * PAGE_SIZE;
    if (options?.zero) this.memory.fill(addr, 0, countPages * PAGE_SIZE);
    return addr;
  }

  freePages(addr: number, countPages: number): void {
    checkCount(countPages, "page count");
    if (!Number.isSafeInteger(addr) || addr % PAGE_SIZE !== 0) {
      throw new AllocatorError(
        "EINVAL",
        `freePages: address ${describeValue(addr)} is not page-aligned`,
        addr,
      );
    }
    const index = addr / PAGE_SIZE - this.firstPage;
    if (index < 0 || index + countPages > this.totalPages) {
      throw new AllocatorError(
        "EFAULT",
        `freePages: ${countPages} page(s) at ${hex(addr)} are not pages of this source`,
        addr,
      );
    }
    for (let i = index; i < index + countPages; i++) {
      if ((this.used[i >>> 5]! & (1 << (i & 31))) === 0) {
        throw new AllocatorError(
          "EDOUBLEFREE",
          `freePages: page ${hex((this.firstPage + i) * PAGE_SIZE)} (in ${countPages} at ${hex(addr)}) is not in use`,
          addr,
        );
      }
    }
    for (let i = index; i < index + countPages; i++) this.used[i >>> 5]! &= ~(1 << (i & 31));
    this.pagesInUse -= countPages;
    this.freeCalls++;
    if (index < this.hint) this.hint = index;
  }

  translate(addr: number): number {
    return this.memory.contains(addr) ? addr : -1;
  }

  /** True when the page holding `addr` is handed out. */
  isInUse(addr: number): boolean {
    const index = Math.floor(addr / PAGE_SIZE) - this.firstPage;
    if (index < 0 || index >= this.totalPages) return false;
    return (this.used[index >>> 5]! & (1 << (index & 31))) !== 0;
  }

  stats(): PageSourceStats {
    return {
      pageSize: PAGE_SIZE,
      pagesInUse: this.pagesInUse,
      peakPagesInUse: this.peakPagesInUse,
      pageLimit: this.pageLimit,
      allocCalls: this.allocCalls,
      freeCalls: this.freeCalls,
      failedCalls: this.failedCalls,
    };
  }

  private pagesOfAlignment(bytes: number, what: string): number {
    if (!isPowerOfTwo(bytes)) {
      throw new AllocatorError(
        "EINVAL",
        `${what} ${describeValue(bytes)} is not a power of two`,
        bytes,
      );
    }
    return Math.max(1, bytes / PAGE_SIZE);
  }

  /**
   * First run of `count` free pages at or after `from` that ends at or below `limit`, starts at
   * an address aligned to `alignPages` pages and does not cross a `boundaryPages` multiple.
   * Returns its page index or -1.
   */
  private findRun(
    count: number,
    from: number,
    limit: number,
    alignPages: number,
    boundaryPages: number,
  ): number {
    if (boundaryPages !== 0 && count > boundaryPages) return -1;
    const used = this.used;
    let start = this.alignIndex(from, alignPages);
    while (start + count <= limit) {
      if (boundaryPages !== 0) {
        const startAddressPage = this.firstPage + start;
        const crossing =
          Math.floor(startAddressPage / boundaryPages) !==
          Math.floor((startAddressPage + count - 1) / boundaryPages);
        if (crossing) {
          start = this.alignIndex(
            (Math.floor(startAddressPage / boundaryPages) + 1) * boundaryPages - this.firstPage,
            alignPages,
          );
          continue;
        }
      }
      // Skip whole used words quickly.
      if ((start & 31) === 0 && used[start >>> 5] === 0xffffffff) {
        start = this.alignIndex(start + 32, alignPages);
        continue;
      }
      let busy = -1;
      for (let i = start + count - 1; i >= start; i--) {
        if ((used[i >>> 5]! & (1 << (i & 31))) !== 0) {
          busy = i;
          break;
        }
      }
      if (busy < 0) return start;
      start = this.alignIndex(busy + 1, alignPages);
    }
    return -1;
  }

  /** Smallest index >= `index` whose address is a multiple of `alignPages` pages. */
  private alignIndex(index: number, alignPages: number): number {
    if (alignPages === 1) return index;
    const page = this.firstPage + index;
    return Math.ceil(page / alignPages) * alignPages - this.firstPage;
  }
}
