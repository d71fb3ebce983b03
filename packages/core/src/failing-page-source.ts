import type { FrameConstraints } from "./contracts/pmm.js";
import type { PageAllocOptions, PageSource, PageSourceStats } from "./contracts/page-source.js";
import type { Memory } from "./contracts/memory.js";
import { AllocatorError, describeValue } from "./errors.js";
import { checkCount, checkPageLimit } from "./validate.js";

/** When an armed {@link FailingPageSource} refuses requests. */
export type FailureMode =
  /** Only the chosen request fails; later ones go through. */
  | "once"
  /** The chosen request and every later one fail (the source stays dry). */
  | "from";

/** The failure modes, for tests that try each. */
export const FAILURE_MODES: readonly FailureMode[] = ["once", "from"];

export interface FailingPageSourceOptions {
  /** At most this many pages of this wrapper in use at once; allocPages returns 0 beyond it. */
  pageLimit?: number;
}

/** A page source that can tell whether an address lies in a page it handed out. */
interface PageOwnershipProbe {
  isInUse(addr: number): boolean;
}

/**
 * Wraps a PageSource to make it fail on purpose: a page limit, and an armed failure of the Nth
 * `allocPages` call (counted from when it was armed) in `once` or `from` mode. Everything else
 * passes through. Refused calls return 0, as a real source out of memory does, and count in
 * `failedCalls`, so a heap under test cannot tell an injected failure from a real one.
 *
 * @example
 * const source = new FailingPageSource(new FlatPageSource(memory));
 * const heap = new MyHeap(source);
 * source.arm(3, "once"); // the 4th page request from now returns 0
 */
export class FailingPageSource implements PageSource {
  readonly pageSize: number;
  readonly memory: Memory;
  readonly pageLimit: number;
  /** allocPages calls since the last `arm` (or since creation). */
  requests = 0;
  /** Calls this wrapper refused (injected failures and the page limit). */
  refused = 0;
  private failAt = -1;
  private mode: FailureMode = "once";
  private pagesInUse = 0;
  private peakPagesInUse = 0;

  constructor(
    readonly inner: PageSource,
    options: FailingPageSourceOptions = {},
  ) {
    this.pageSize = inner.pageSize;
    this.memory = inner.memory;
    this.pageLimit = Math.min(checkPageLimit(options.pageLimit), inner.stats().pageLimit);
    const probe = (inner as Partial<PageOwnershipProbe>).isInUse;
    if (typeof probe === "function") this.isInUse = (addr) => probe.call(inner, addr);
  }

  /**
   * The inner source's page-ownership probe (FlatPageSource's, say), present only when the inner
   * source has one, so a check that looks for the probe skips a source that cannot answer.
   */
  readonly isInUse?: (addr: number) => boolean;

  get physicalConstraints(): ReadonlySet<keyof FrameConstraints> | undefined {
    return this.inner.physicalConstraints;
  }

  /**
   * Makes the `index`-th allocPages call from now (0 = the next one) fail, and with mode `from`
   * every call after it too. Resets the request count.
   */
  arm(index: number, mode: FailureMode = "once"): void {
    if (!Number.isSafeInteger(index) || index < 0) {
      throw new AllocatorError(
        "EINVAL",
        `failure index ${describeValue(index)} is not a request number (0, 1, 2 ...)`,
        index,
      );
    }
    this.failAt = index;
    this.mode = mode;
    this.requests = 0;
  }

  /** Stops injecting failures (the page limit stays) and resets the request count. */
  disarm(): void {
    this.failAt = -1;
    this.requests = 0;
  }

  /** True once an armed failure has been injected. */
  get tripped(): boolean {
    return this.failAt >= 0 && this.requests > this.failAt;
  }

  allocPages(countPages: number, options?: PageAllocOptions): number {
    const index = this.requests++;
    const injected =
      this.failAt >= 0 && (this.mode === "once" ? index === this.failAt : index >= this.failAt);
    if (injected || this.pagesInUse + countPages > this.pageLimit) {
      checkCount(countPages, "page count");
      this.refused++;
      return 0;
    }
    const addr = this.inner.allocPages(countPages, options);
    if (addr !== 0) {
      this.pagesInUse += countPages;
      if (this.pagesInUse > this.peakPagesInUse) this.peakPagesInUse = this.pagesInUse;
    }
    return addr;
  }

  freePages(addr: number, countPages: number): void {
    this.inner.freePages(addr, countPages);
    this.pagesInUse -= countPages;
  }

  translate(addr: number): number {
    return this.inner.translate?.(addr) ?? -1;
  }

  stats(): PageSourceStats {
    const inner = this.inner.stats();
    return {
      ...inner,
      pagesInUse: this.pagesInUse,
      peakPagesInUse: this.peakPagesInUse,
      pageLimit: this.pageLimit,
      allocCalls: inner.allocCalls + this.refused,
      failedCalls: inner.failedCalls + this.refused,
    };
  }
}
