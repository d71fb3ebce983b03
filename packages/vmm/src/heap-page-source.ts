import {
  AllocatorError,
  PAGE_SIZE,
  checkCount,
  describeValue,
  isPowerOfTwo,
  type FrameConstraints,
  type Memory,
  type PageAllocOptions,
  type PageSource,
  type PageSourceStats,
} from "@allockit/core";
import type { RegionRecord, X86AddressSpace } from "./address-space.js";
import { RegionTree } from "./region-tree.js";

/**
 * A PageSource over one heap region: mmap-style runs of pages handed out from the region, and
 * brk-style growth of the region itself when no run fits (`sbrk`). Freed runs are decommitted:
 * their frames go back to the PMM and the pages read zero when handed out again.
 *
 * Runs are committed (frames mapped before `allocPages` returns) unless `commit: false` is
 * passed or `defaultCommit` is false: a heap writes its headers into fresh pages at once, and a
 * demand-paged page that finds the PMM empty on first touch could only fault, where a committed
 * request returns 0 and the heap reports out of memory as the contract says.
 */
export class HeapPageSource implements PageSource {
  readonly pageSize = PAGE_SIZE;
  readonly memory: Memory;
  /** Runs handed out, keyed by address. */
  private readonly runs: RegionTree<number>;
  private pagesInUse = 0;
  private peak = 0;
  private allocCalls = 0;
  private freeCalls = 0;
  private failedCalls = 0;

  /** Whether runs are committed when the caller does not say. */
  defaultCommit = true;

  constructor(
    private readonly space: X86AddressSpace,
    private readonly record: RegionRecord,
  ) {
    this.memory = space.vmm.memory;
    this.runs = new RegionTree<number>(record.start, space.high);
  }

  /** The current break: the end of the region. */
  get break(): number {
    return this.record.end;
  }

  allocPages(countPages: number, options: PageAllocOptions = {}): number {
    checkCount(countPages, "page count");
    this.allocCalls++;
    const align = options.align ?? PAGE_SIZE;
    if (!Number.isSafeInteger(align) || !isPowerOfTwo(align) || align < PAGE_SIZE) {
      throw new AllocatorError(
        "EINVAL",
        `allocPages: alignment ${describeValue(align)} is not a power of two >= ${PAGE_SIZE}`,
        align,
      );
    }
    const physical = options.physical;
    if (physical !== undefined) this.checkPhysical(countPages, physical);
    const size = countPages * PAGE_SIZE;
    let at = this.runs.findGap(size, align, false, this.record.start, this.record.end);
    if (at < 0) {
      // brk: grow the region by what the request needs beyond the last run.
      const last = this.runs.last();
      const tail = last === undefined ? this.record.start : Math.max(last.end, this.record.start);
      const aligned = Math.ceil(tail / align) * align;
      if (this.sbrk(aligned + size - this.record.end) !== 0) {
        at = this.runs.findGap(size, align, false, this.record.start, this.record.end);
      }
    }
    if (at < 0) {
      this.failedCalls++;
      return 0;
    }
    const committed =
      physical !== undefined
        ? this.space.commitContiguous(at, size, physical)
        : !(options.commit ?? this.defaultCommit) || this.space.commit(at, size);
    if (!committed) {
      this.space.decommit(at, size);
      this.failedCalls++;
      return 0;
    }
    this.runs.insert(at, at + size, at);
    this.pagesInUse += countPages;
    if (this.pagesInUse > this.peak) this.peak = this.pagesInUse;
    return at;
  }

  /**
   * The constraints a `physical` request may carry: the PMM's, when it hands out contiguous
   * runs; none (undefined) when it does not.
   */
  get physicalConstraints(): ReadonlySet<keyof FrameConstraints> | undefined {
    const capabilities = this.space.vmm.pmm.capabilities;
    return capabilities.contiguous ? capabilities.constraints : undefined;
  }

  private checkPhysical(countPages: number, physical: FrameConstraints): void {
    const supported = this.physicalConstraints;
    if (supported === undefined) {
      throw new AllocatorError(
        "EUNSUPPORTED",
        `allocPages: ${this.space.vmm.pmm.name} does not hand out physically contiguous runs, so ${countPages} physically contiguous page(s) cannot be had`,
        physical,
      );
    }
    for (const key of Object.keys(physical) as (keyof FrameConstraints)[]) {
      if (physical[key] !== undefined && !supported.has(key)) {
        throw new AllocatorError(
          "EUNSUPPORTED",
          `allocPages: physical constraint ${key} = ${describeValue(physical[key])} is not one ${this.space.vmm.pmm.name} honours`,
          physical,
        );
      }
    }
  }

  freePages(addr: number, countPages: number): void {
    checkCount(countPages, "page count");
    const size = countPages * PAGE_SIZE;
    const node =
      Number.isSafeInteger(addr) && Math.floor(addr / PAGE_SIZE) * PAGE_SIZE === addr
        ? this.runs.find(addr)
        : undefined;
    if (node === undefined || addr + size > node.end) {
      throw new AllocatorError(
        "EFAULT",
        `freePages: ${describeValue(addr)} + ${countPages} pages was not handed out by this heap region`,
        addr,
      );
    }
    this.freeCalls++;
    this.space.decommit(addr, size);
    const start = node.start;
    const end = node.end;
    this.runs.remove(start);
    if (start < addr) this.runs.insert(start, addr, start);
    if (addr + size < end) this.runs.insert(addr + size, end, addr + size);
    this.pagesInUse -= countPages;
  }

  /**
   * Moves the break by `increment` bytes (a multiple of the page size): grows the region into
   * the free gap above it, or shrinks it, decommitting what falls off. Returns the old break, or
   * 0 when the gap above is too small or runs are still handed out in the part to drop.
   */
  sbrk(increment: number): number {
    if (!Number.isSafeInteger(increment) || increment % PAGE_SIZE !== 0) {
      throw new AllocatorError(
        "EINVAL",
        `sbrk: ${describeValue(increment)} is not a multiple of ${PAGE_SIZE}`,
        increment,
      );
    }
    const old = this.record.end;
    if (increment === 0) return old;
    const nodeStart = this.record.start - this.record.guard;
    if (increment > 0) {
      if (this.space.tree.gapAfter(nodeStart) < increment) return 0;
      this.space.tree.resize(nodeStart, old + increment);
      this.record.end = old + increment;
      return old;
    }
    const next = old + increment;
    if (next <= this.record.start) return 0;
    const last = this.runs.last();
    if (last !== undefined && last.end > next) return 0;
    this.space.decommit(next, -increment);
    this.space.tree.resize(nodeStart, next);
    this.record.end = next;
    return old;
  }

  /** The region was cut at `end` (an unmap or a split): runs beyond it are gone. */
  regionShrunk(end: number): void {
    for (const node of this.runs.overlapping(end, this.space.high)) {
      this.pagesInUse -= (node.end - Math.max(node.start, end)) / PAGE_SIZE;
      this.runs.remove(node.start);
      if (node.start < end) this.runs.insert(node.start, end, node.start);
    }
  }

  translate(addr: number): number {
    return this.space.translate(addr);
  }

  stats(): PageSourceStats {
    return {
      pageSize: PAGE_SIZE,
      pagesInUse: this.pagesInUse,
      peakPagesInUse: this.peak,
      pageLimit: Infinity,
      allocCalls: this.allocCalls,
      freeCalls: this.freeCalls,
      failedCalls: this.failedCalls,
    };
  }
}
