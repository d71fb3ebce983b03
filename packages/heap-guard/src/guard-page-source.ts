import {
  AllocatorError,
  PAGE_SIZE,
  checkCount,
  checkPageLimit,
  checkSize,
  describeValue,
  hex,
  isPowerOfTwo,
} from "@allockit/core";
import type {
  AddressSpace,
  FrameConstraints,
  Memory,
  PageAllocOptions,
  PageSource,
  PageSourceStats,
  Region,
} from "@allockit/core";
import { DEFAULT_QUARANTINE_PAGES } from "./layout.js";
import { floorTo } from "./words.js";

export interface GuardPageSourceOptions {
  /**
   * Pages of freed runs kept reserved (unmapped, faulting) before their addresses may be
   * handed out again, oldest released first (default 256; 0 releases at once).
   */
  quarantinePages?: number;
  /** At most this many pages in use at once; allocPages returns 0 beyond it. */
  pageLimit?: number;
  /** Prefix of the names of the regions it maps (default "guard-pages#N"). */
  name?: string;
}

let sources = 0;

/** What the source needs to know of a region: where it is and whose it is (by name). */
interface Span {
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

/**
 * An address space that can say which region holds an address without describing it (the VMM's
 * `recordAt`): `regionAt` also counts the region's committed pages, a walk of every page, which
 * for a neighbouring heap region is thousands of walks per free.
 */
interface SpanLookup {
  recordAt(addr: number): Span | undefined;
}

/**
 * A PageSource over an address space that puts an unmapped guard page on each side of every
 * run, and keeps freed runs unmapped but reserved, in a FIFO quarantine, so that any access to
 * them faults until they are released.
 *
 * A run of n pages is carved from one reservation of n + 2 pages (a "guard" region, which
 * every access faults on): the middle is unmapped and mapped again as committed anonymous
 * memory, leaving a one-page guard region on either side. Freeing unmaps the pages (their
 * frames go back to the PMM) and maps a guard region in their place; when the quarantine holds
 * more than `quarantinePages` pages the oldest range is unmapped for good, with any guard page
 * next to it that no longer borders a run. The region tree is the only record of which is
 * which (each region's name says whose and what it is); JavaScript holds the FIFO of
 * quarantined ranges (two numbers each, at most `quarantinePages` of them) and counters.
 */
export class GuardPageSource implements PageSource {
  readonly pageSize = PAGE_SIZE;
  readonly memory: Memory;
  /** Tells a GuardHeap over this source that its runs have guard pages. */
  readonly guardPages = true;
  /** None: runs are single pages mapped one by one, never physically contiguous on request. */
  readonly physicalConstraints: ReadonlySet<keyof FrameConstraints> | undefined = undefined;
  readonly pageLimit: number;
  readonly quarantinePages: number;
  /** Names of the regions this source maps: runs, guard pages, quarantined ranges. */
  readonly runName: string;
  readonly guardName: string;
  readonly quarantineName: string;
  private readonly fifo: Float64Array;
  private head = 0;
  private count = 0;
  private heldPages = 0;
  private pagesInUse = 0;
  private peakPagesInUse = 0;
  private allocCalls = 0;
  private freeCalls = 0;
  private failedCalls = 0;
  private destroyed = false;
  private readonly spans: SpanLookup | undefined;

  constructor(
    readonly space: AddressSpace,
    memory: Memory,
    options: GuardPageSourceOptions = {},
  ) {
    this.memory = memory;
    this.spans =
      typeof (space as Partial<SpanLookup>).recordAt === "function"
        ? (space as unknown as SpanLookup)
        : undefined;
    this.pageLimit = checkPageLimit(options.pageLimit);
    const quarantine = options.quarantinePages ?? DEFAULT_QUARANTINE_PAGES;
    checkSize(quarantine, "quarantinePages");
    this.quarantinePages = quarantine;
    this.fifo = new Float64Array(2 * quarantine);
    const prefix = options.name ?? `guard-pages#${++sources}`;
    this.runName = `${prefix} run`;
    this.guardName = `${prefix} guard`;
    this.quarantineName = `${prefix} quarantine`;
  }

  /** Ranges in the quarantine now, and their pages. */
  get quarantinedRanges(): number {
    return this.count;
  }
  get quarantinedPages(): number {
    return this.heldPages;
  }

  allocPages(countPages: number, options: PageAllocOptions = {}): number {
    checkCount(countPages, "page count");
    this.checkLive();
    if (options.physical !== undefined) {
      throw new AllocatorError(
        "EUNSUPPORTED",
        `allocPages: a guard page source maps single pages from the PMM; ${countPages} physically contiguous page(s) cannot be had`,
        options.physical,
      );
    }
    const align = options.align ?? PAGE_SIZE;
    if (!isPowerOfTwo(align) || align < PAGE_SIZE) {
      throw new AllocatorError(
        "EINVAL",
        `allocPages: alignment ${describeValue(align)} is not a power of two >= ${PAGE_SIZE}`,
        align,
      );
    }
    this.allocCalls++;
    if (this.pagesInUse + countPages > this.pageLimit) return this.fail();
    const bytes = countPages * PAGE_SIZE;
    // One reservation: `align` bytes whose last page is the guard below, the run, a guard above.
    const start = this.space.map({
      kind: "guard",
      sizeBytes: align + bytes + PAGE_SIZE,
      align,
      name: this.guardName,
    });
    if (start === 0) return this.fail();
    const run = start + align;
    if (align > PAGE_SIZE) this.space.unmap(start, align - PAGE_SIZE);
    this.space.unmap(run, bytes);
    const mapped = this.space.map({
      kind: "anonymous",
      at: run,
      sizeBytes: bytes,
      commit: options.commit ?? true,
      name: this.runName,
    });
    if (mapped === 0) {
      this.space.unmap(run - PAGE_SIZE, bytes + 2 * PAGE_SIZE);
      return this.fail();
    }
    this.pagesInUse += countPages;
    if (this.pagesInUse > this.peakPagesInUse) this.peakPagesInUse = this.pagesInUse;
    return run;
  }

  freePages(addr: number, countPages: number): void {
    checkCount(countPages, "page count");
    this.checkLive();
    const bytes = countPages * PAGE_SIZE;
    const region =
      Number.isSafeInteger(addr) && floorTo(addr, PAGE_SIZE) === addr
        ? this.spanAt(addr)
        : undefined;
    if (region?.name !== this.runName || addr + bytes > region.end) {
      throw new AllocatorError(
        "EFAULT",
        `freePages: ${describeValue(addr)} + ${countPages} page(s) was not handed out by ${this.runName.replace(/ run$/, "")}`,
        addr,
      );
    }
    this.freeCalls++;
    this.space.unmap(addr, bytes);
    this.pagesInUse -= countPages;
    if (countPages > this.quarantinePages) {
      this.tidyAround(addr, bytes);
      return;
    }
    this.space.map({ kind: "guard", at: addr, sizeBytes: bytes, name: this.quarantineName });
    while (
      this.count > 0 &&
      (this.count === this.quarantinePages || this.heldPages + countPages > this.quarantinePages)
    )
      this.releaseOldest();
    const slot = (this.head + this.count) % this.quarantinePages;
    this.fifo[2 * slot] = addr;
    this.fifo[2 * slot + 1] = countPages;
    this.count++;
    this.heldPages += countPages;
  }

  /** Releases the oldest quarantined range: its addresses may be handed out again. */
  releaseOldest(): void {
    if (this.count === 0) return;
    const addr = this.fifo[2 * this.head]!;
    const pages = this.fifo[2 * this.head + 1]!;
    this.head = (this.head + 1) % this.quarantinePages;
    this.count--;
    this.heldPages -= pages;
    this.space.unmap(addr, pages * PAGE_SIZE);
    this.tidyAround(addr, pages * PAGE_SIZE);
  }

  /** Releases every quarantined range. */
  flushQuarantine(): void {
    while (this.count > 0) this.releaseOldest();
  }

  translate(addr: number): number {
    return this.space.translate(addr);
  }

  /** True when the page holding `addr` belongs to a run handed out and not freed. */
  isInUse(addr: number): boolean {
    if (!Number.isSafeInteger(addr)) return false;
    return this.spanAt(addr)?.name === this.runName;
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

  /**
   * Checks the regions against the counters: run pages equal pages in use, every quarantined
   * range is a quarantine region of its own, every run is bordered by guard, run or quarantine
   * regions of this source. Throws ECORRUPT.
   */
  check(): void {
    let runPages = 0;
    let quarantined = 0;
    for (const region of this.ownRegions()) {
      const pages = region.sizeBytes / PAGE_SIZE;
      if (region.name === this.runName) {
        runPages += pages;
        for (const side of [region.start - 1, region.start + region.sizeBytes]) {
          if (!this.isOwn(this.regionAt(side))) {
            throw new AllocatorError(
              "ECORRUPT",
              `${this.runName} at ${hex(region.start)} has no guard page at ${hex(side)}`,
              region.start,
            );
          }
        }
      } else if (region.name === this.quarantineName) quarantined += pages;
    }
    let listed = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % this.quarantinePages;
      const addr = this.fifo[2 * slot]!;
      const region = this.space.regionAt(addr);
      if (
        region?.name !== this.quarantineName ||
        region.start !== addr ||
        region.sizeBytes !== this.fifo[2 * slot + 1]! * PAGE_SIZE
      )
        throw new AllocatorError(
          "ECORRUPT",
          `quarantined range ${hex(addr)} is not reserved`,
          addr,
        );
      listed += this.fifo[2 * slot + 1]!;
    }
    if (
      runPages !== this.pagesInUse ||
      quarantined !== this.heldPages ||
      listed !== this.heldPages
    ) {
      throw new AllocatorError(
        "ECORRUPT",
        `${this.runName}: ${runPages} run page(s) and ${quarantined} quarantined mapped, ${this.pagesInUse} and ${this.heldPages} counted`,
        runPages,
      );
    }
  }

  /** Unmaps every region this source mapped; the source cannot be used afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    for (const region of this.ownRegions()) this.space.unmap(region.start, region.sizeBytes);
    this.count = this.heldPages = this.pagesInUse = 0;
    this.destroyed = true;
  }

  // ---------------------------------------------------------------- internals

  private fail(): number {
    this.failedCalls++;
    return 0;
  }

  private checkLive(): void {
    if (this.destroyed)
      throw new AllocatorError(
        "EFAULT",
        `${this.runName.replace(/ run$/, "")} was destroyed`,
        undefined,
      );
  }

  private ownRegions(): Region[] {
    const names = [this.runName, this.guardName, this.quarantineName];
    return this.space.regions().filter((region) => names.includes(region.name));
  }

  private isOwn(region: Region | undefined): boolean {
    return (
      region !== undefined &&
      (region.name === this.runName ||
        region.name === this.guardName ||
        region.name === this.quarantineName)
    );
  }

  private isData(region: Span | undefined): boolean {
    return region?.name === this.runName || region?.name === this.quarantineName;
  }

  private regionAt(addr: number): Region | undefined {
    return addr >= this.space.low && addr < this.space.high ? this.space.regionAt(addr) : undefined;
  }

  /** The region holding `addr` (guard included), as a span; undefined outside the space. */
  private spanAt(addr: number): Span | undefined {
    if (!(addr >= this.space.low && addr < this.space.high)) return undefined;
    if (this.spans !== undefined) return this.spans.recordAt(addr);
    const region = this.space.regionAt(addr);
    return region === undefined
      ? undefined
      : { start: region.start, end: region.start + region.sizeBytes, name: region.name };
  }

  /**
   * After [addr, addr + bytes) was unmapped: drops a guard page on either side of it that no
   * longer borders a run or a quarantined range.
   */
  private tidyAround(addr: number, bytes: number): void {
    const below = this.spanAt(addr - 1);
    if (below?.name === this.guardName && below.end === addr) {
      const belowStart = below.start;
      const beyond = this.spanAt(belowStart - 1);
      const borders = beyond !== undefined && beyond.end === belowStart;
      if (!(borders && this.isData(beyond))) this.space.unmap(belowStart, addr - belowStart);
    }
    const end = addr + bytes;
    const above = this.spanAt(end);
    if (above?.name === this.guardName && above.start === end) {
      const aboveEnd = above.end;
      const beyond = this.spanAt(aboveEnd);
      if (!(beyond?.start === aboveEnd && this.isData(beyond)))
        this.space.unmap(end, aboveEnd - end);
    }
  }
}
