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
  MapRequest,
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
  /**
   * Slots of the KFENCE-style pool (default 0: no pool). With a pool, one-page runs (page
   * alignment, committed) come from a range of 2 * poolSlots + 1 pages reserved once, on the
   * first such request: object pages interleaved with guard pages that are never mapped. A run
   * maps its slot's page, a free unmaps it again (into the quarantine), and the slot is taken
   * again once released. When every slot is taken, or the range cannot be reserved, runs are
   * carved from reservations of their own as without a pool.
   */
  poolSlots?: number;
}

/** Pool slot states. */
const SLOT_FREE = 0;
const SLOT_IN_USE = 1;
const SLOT_QUARANTINED = 2;

const NO_OPTIONS: PageAllocOptions = Object.freeze({});

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
  /** Name of the pool's reserved (guard) pages: its guard pages and its free slots. */
  readonly poolName: string;
  readonly poolSlots: number;
  private readonly fifo: Float64Array;
  // The pool: [poolBase, poolEnd) once reserved; slot i's page is poolBase + (2i + 1) pages.
  // JavaScript holds each slot's state and a stack of free slots (most recently released on
  // top), typed arrays of poolSlots entries allocated once.
  private poolBase = 0;
  private poolEnd = 0;
  /** The pool could not be reserved: every run takes the per-region path. */
  private poolRefused = false;
  private readonly slotState: Uint8Array;
  private readonly freeSlots: Int32Array;
  private freeSlotCount = 0;
  /** Requests reused for every slot mapping (no object per call). */
  private readonly slotRunRequest: MapRequest;
  private readonly slotGuardRequest: MapRequest;
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
    this.poolName = `${prefix} pool`;
    const slots = options.poolSlots ?? 0;
    checkSize(slots, "poolSlots");
    this.poolSlots = slots;
    this.slotState = new Uint8Array(slots);
    this.freeSlots = new Int32Array(slots);
    this.slotRunRequest = {
      kind: "anonymous",
      at: 0,
      sizeBytes: PAGE_SIZE,
      commit: true,
      name: this.runName,
    };
    this.slotGuardRequest = { kind: "guard", at: 0, sizeBytes: PAGE_SIZE, name: this.poolName };
  }

  /** The pool's range [start, end), once reserved ([0, 0) before). */
  get poolRange(): readonly [number, number] {
    return [this.poolBase, this.poolEnd];
  }

  /** Pool slots free, taken by runs, and quarantined. */
  get poolUsage(): { free: number; inUse: number; quarantined: number } {
    let inUse = 0;
    let quarantined = 0;
    for (let i = 0; i < this.poolSlots; i++) {
      if (this.slotState[i] === SLOT_IN_USE) inUse++;
      else if (this.slotState[i] === SLOT_QUARANTINED) quarantined++;
    }
    const reserved = this.poolEnd !== 0;
    return { free: reserved ? this.freeSlotCount : this.poolSlots, inUse, quarantined };
  }

  /** Ranges in the quarantine now, and their pages. */
  get quarantinedRanges(): number {
    return this.count;
  }
  get quarantinedPages(): number {
    return this.heldPages;
  }

  allocPages(countPages: number, options: PageAllocOptions = NO_OPTIONS): number {
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
    if (countPages === 1 && align === PAGE_SIZE && options.commit !== false && !this.poolRefused) {
      const slot = this.takeSlot();
      // 0: no slot free (or no pool), carve a run of its own; -1: out of memory.
      if (slot < 0) return this.fail();
      if (slot !== 0) {
        this.pagesInUse++;
        if (this.pagesInUse > this.peakPagesInUse) this.peakPagesInUse = this.pagesInUse;
        return slot;
      }
    }
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
    if (addr >= this.poolBase && addr < this.poolEnd) {
      this.freeSlot(addr, countPages);
      return;
    }
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
    if (addr >= this.poolBase && addr < this.poolEnd) {
      // A pool slot: its page stays reserved (a guard page of the pool); it may be taken again.
      const slot = (addr - this.poolBase - PAGE_SIZE) / (2 * PAGE_SIZE);
      this.slotState[slot] = SLOT_FREE;
      this.freeSlots[this.freeSlotCount++] = slot;
      return;
    }
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
    if (addr >= this.poolBase && addr < this.poolEnd) {
      const page = Math.floor((addr - this.poolBase) / PAGE_SIZE);
      return page % 2 === 1 && this.slotState[(page - 1) / 2] === SLOT_IN_USE;
    }
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
    quarantined += this.checkPool();
    let listed = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % this.quarantinePages;
      const addr = this.fifo[2 * slot]!;
      if (addr >= this.poolBase && addr < this.poolEnd) {
        const index = (addr - this.poolBase - PAGE_SIZE) / (2 * PAGE_SIZE);
        if (this.slotState[index] !== SLOT_QUARANTINED || this.fifo[2 * slot + 1] !== 1) {
          throw new AllocatorError(
            "ECORRUPT",
            `quarantined pool slot ${hex(addr)} is not marked quarantined`,
            addr,
          );
        }
        listed++;
        continue;
      }
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
    this.poolBase = this.poolEnd = this.freeSlotCount = 0;
    this.slotState.fill(SLOT_FREE);
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

  /**
   * A one-page run from the pool: its address; 0 when the pool has no free slot (or cannot be
   * reserved); -1 when the page could not be mapped (out of memory), the slot left free.
   */
  private takeSlot(): number {
    if (this.poolEnd === 0) {
      if (this.poolSlots === 0 || !this.reservePool()) return 0;
    }
    if (this.freeSlotCount === 0) return 0;
    const slot = this.freeSlots[this.freeSlotCount - 1]!;
    const addr = this.poolBase + (2 * slot + 1) * PAGE_SIZE;
    const space = this.space;
    space.unmap(addr, PAGE_SIZE);
    this.slotRunRequest.at = addr;
    if (space.map(this.slotRunRequest) === 0) {
      // Out of memory: the slot's page goes back to the pool's reservation.
      this.slotGuardRequest.at = addr;
      space.map(this.slotGuardRequest);
      return -1;
    }
    this.freeSlotCount--;
    this.slotState[slot] = SLOT_IN_USE;
    return addr;
  }

  /** Reserves the pool: one guard region of 2 * poolSlots + 1 pages. False when refused. */
  private reservePool(): boolean {
    const size = (2 * this.poolSlots + 1) * PAGE_SIZE;
    const start = this.space.map({ kind: "guard", sizeBytes: size, name: this.poolName });
    if (start === 0) {
      this.poolRefused = true;
      return false;
    }
    this.poolBase = start;
    this.poolEnd = start + size;
    // Lowest slot on top of the stack: slots are taken bottom up at first.
    for (let i = 0; i < this.poolSlots; i++) this.freeSlots[i] = this.poolSlots - 1 - i;
    this.freeSlotCount = this.poolSlots;
    return true;
  }

  /** freePages of an address in the pool: only a whole slot in use. */
  private freeSlot(addr: number, countPages: number): void {
    const offset = addr - this.poolBase;
    const page = offset / PAGE_SIZE;
    const slot = (page - 1) / 2;
    if (countPages !== 1 || !Number.isInteger(slot) || this.slotState[slot] !== SLOT_IN_USE) {
      throw new AllocatorError(
        "EFAULT",
        `freePages: ${describeValue(addr)} + ${countPages} page(s) was not handed out by ${this.runName.replace(/ run$/, "")}`,
        addr,
      );
    }
    this.freeCalls++;
    const space = this.space;
    space.unmap(addr, PAGE_SIZE);
    this.slotGuardRequest.at = addr;
    space.map(this.slotGuardRequest);
    this.pagesInUse--;
    if (this.quarantinePages === 0) {
      this.slotState[slot] = SLOT_FREE;
      this.freeSlots[this.freeSlotCount++] = slot;
      return;
    }
    this.slotState[slot] = SLOT_QUARANTINED;
    while (
      this.count > 0 &&
      (this.count === this.quarantinePages || this.heldPages + 1 > this.quarantinePages)
    )
      this.releaseOldest();
    const entry = (this.head + this.count) % this.quarantinePages;
    this.fifo[2 * entry] = addr;
    this.fifo[2 * entry + 1] = 1;
    this.count++;
    this.heldPages++;
  }

  /**
   * Checks the pool's pages against the slot states: a slot in use is a run region of its own,
   * every other page of the range a pool (guard) region; the free stack holds each free slot
   * once. Returns the quarantined slots. Throws ECORRUPT.
   */
  private checkPool(): number {
    if (this.poolEnd === 0) return 0;
    let quarantined = 0;
    let free = 0;
    for (let page = 0; page < 2 * this.poolSlots + 1; page++) {
      const addr = this.poolBase + page * PAGE_SIZE;
      const span = this.spanAt(addr);
      const inUse = page % 2 === 1 && this.slotState[(page - 1) / 2] === SLOT_IN_USE;
      const ok = inUse
        ? span?.name === this.runName && span.start === addr && span.end === addr + PAGE_SIZE
        : span?.name === this.poolName;
      if (!ok) {
        throw new AllocatorError(
          "ECORRUPT",
          `${this.poolName}: page ${hex(addr)} should be ${inUse ? "a run" : "reserved"} but is ${span === undefined ? "unmapped" : `"${span.name}"`}`,
          addr,
        );
      }
      if (page % 2 === 1) {
        const state = this.slotState[(page - 1) / 2];
        if (state === SLOT_QUARANTINED) quarantined++;
        else if (state === SLOT_FREE) free++;
      }
    }
    const seen = new Uint8Array(this.poolSlots);
    for (let i = 0; i < this.freeSlotCount; i++) {
      const slot = this.freeSlots[i]!;
      if (this.slotState[slot] !== SLOT_FREE || seen[slot] !== 0) {
        throw new AllocatorError(
          "ECORRUPT",
          `${this.poolName}: free slot ${slot} is listed twice or is not free`,
          slot,
        );
      }
      seen[slot] = 1;
    }
    if (free !== this.freeSlotCount) {
      throw new AllocatorError(
        "ECORRUPT",
        `${this.poolName}: ${free} free slot(s), ${this.freeSlotCount} listed`,
        free,
      );
    }
    return quarantined;
  }

  private ownRegions(): Region[] {
    const names = [this.runName, this.guardName, this.quarantineName, this.poolName];
    return this.space.regions().filter((region) => names.includes(region.name));
  }

  private isOwn(region: Region | undefined): boolean {
    return (
      region !== undefined &&
      (region.name === this.runName ||
        region.name === this.guardName ||
        region.name === this.quarantineName ||
        region.name === this.poolName)
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
