import { Libc, hex, isAllocatorError, isPowerOfTwo } from "@allockit/core";
import type { AllocatorErrorCode, Heap, HeapStats, Memory, PageSource } from "@allockit/core";
import { ConformanceViolation, describeThrown } from "../violation.js";
import type { BadArgument } from "./bad-arguments.js";
import type { HeapEnvironment, HeapFactory, HeapUnderTest } from "./factory.js";
import { firstMismatch, patternBytes, patternOffset } from "./pattern.js";

/** What the suite learns about a heap before testing it. */
export interface HeapProfile {
  readonly name: string;
  readonly defaultAlign: number;
  readonly maxAlign: number;
  readonly releasesMemory: boolean;
  /** Page size of the heap's page source (4096 without one). */
  readonly pageSize: number;
  readonly hasPageSource: boolean;
}

/** A block the suite holds, with what it expects of it. */
export interface TrackedBlock {
  /** Suite-side name ("b3"), stable for the block's life, also across a moving realloc. */
  readonly id: number;
  readonly ptr: number;
  /** Size passed to heap_alloc: what stats().requestedBytes counts. */
  readonly requested: number;
  /** heap_size when handed out; it must not change while the block is live. */
  readonly usable: number;
  /** Alignment the pointer must honour. */
  readonly align: number;
  /** Bytes holding the block's pattern (differs from `requested` after an in-place realloc). */
  contentLength: number;
  /** Bumped by every rewrite, so the block's bytes change. */
  generation: number;
  /** The call that produced the block, for messages. */
  readonly origin: string;
}

/** A pointer the suite freed (it may since have been handed out again). */
interface FreedPointer {
  readonly ptr: number;
  readonly id: number;
  readonly step: number;
}

/** Counts across all runs of a suite, for its report. */
export interface HeapRunCounters {
  steps: number;
  allocations: number;
  outOfMemory: number;
  rejectedCalls: number;
  reallocMoves: number;
}

export function newRunCounters(): HeapRunCounters {
  return { steps: 0, allocations: 0, outOfMemory: 0, rejectedCalls: 0, reallocMoves: 0 };
}

/** Orders in which the suite frees every live block. */
export const FREE_ORDERS = ["forward", "reverse", "interleaved"] as const;
export type FreeOrder = (typeof FREE_ORDERS)[number];

/** Where a pointer the heap did not hand out comes from. */
export const FOREIGN_KINDS = ["interior", "past-end", "freed", "outside", "null-page"] as const;
export type ForeignKind = (typeof FOREIGN_KINDS)[number];

/** Codes a rejected heap_free may carry: foreign, freed, or malformed pointer. */
export const BAD_POINTER_CODES: ReadonlySet<AllocatorErrorCode> = new Set([
  "EFAULT",
  "EDOUBLEFREE",
  "EINVAL",
]);

const TRACE_LINES = 40;
const FREED_REMEMBERED = 16;

/** Address far above any flat memory the suite builds: never handed out. */
const FAR_ADDRESS = 2 ** 40;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
}

/** True when `message` contains `value` in decimal, as a whole number. */
export function mentionsDecimal(message: string, value: number): boolean {
  return new RegExp(`(?<![0-9A-Za-z_.])${escapeRegExp(String(value))}(?![0-9A-Za-z_])`).test(
    message,
  );
}

/** True when `message` names `value` in decimal or as 0x hex. */
export function mentionsAddress(message: string, value: number): boolean {
  if (mentionsDecimal(message, value)) return true;
  return (
    Number.isSafeInteger(value) &&
    value >= 0 &&
    new RegExp(`0x0*${value.toString(16)}(?![0-9a-f])`, "i").test(message)
  );
}

/** The alignment a pointer from heap_alloc(_, align) must have. */
export function requiredAlignment(align: number, defaultAlign: number): number {
  return align <= 1 ? defaultAlign : Math.max(align, defaultAlign);
}

/** Builds a heap through `factory`, wrapping a throwing factory in a violation. */
export function createUnderTest(factory: HeapFactory, env: HeapEnvironment): HeapUnderTest {
  let built: HeapUnderTest;
  try {
    built = factory(env);
  } catch (error) {
    throw new ConformanceViolation(
      "factory",
      `the heap factory threw for ${JSON.stringify(env)}: ${describeThrown(error)}`,
      {
        cause: error,
      },
    );
  }
  if (
    typeof built !== "object" ||
    built === null ||
    typeof built.heap !== "object" ||
    built.heap === null
  ) {
    throw new ConformanceViolation("factory", "the heap factory must return { heap, pageSource? }");
  }
  if (env.pageLimit !== undefined) {
    if (built.pageSource === undefined) {
      throw new ConformanceViolation(
        "factory",
        `asked for pageLimit ${env.pageLimit}, the factory returned no pageSource`,
      );
    }
    const limit = built.pageSource.stats().pageLimit;
    if (limit !== env.pageLimit) {
      throw new ConformanceViolation(
        "factory",
        `asked for pageLimit ${env.pageLimit}, the factory's page source reports pageLimit ${limit}`,
      );
    }
  }
  return built;
}

/** Reads and checks the heap's declared properties (name, alignments, memory, page size). */
export function profileHeap(factory: HeapFactory): HeapProfile {
  const underTest = createUnderTest(factory, {});
  try {
    return readProfile(underTest);
  } finally {
    underTest.dispose?.();
  }
}

function readProfile({ heap, pageSource }: HeapUnderTest): HeapProfile {
  const fail = (message: string): never => {
    throw new ConformanceViolation("properties", message);
  };
  if (typeof heap.name !== "string" || heap.name === "")
    fail(`heap.name must be a non-empty string, got ${String(heap.name)}`);
  if (!isPowerOfTwo(heap.defaultAlign) || heap.defaultAlign < 8) {
    fail(`heap.defaultAlign must be a power of two >= 8, got ${String(heap.defaultAlign)}`);
  }
  if (!isPowerOfTwo(heap.maxAlign) || heap.maxAlign < heap.defaultAlign) {
    fail(
      `heap.maxAlign must be a power of two >= defaultAlign (${heap.defaultAlign}), got ${String(heap.maxAlign)}`,
    );
  }
  if (typeof heap.releasesMemory !== "boolean")
    fail(`heap.releasesMemory must be a boolean, got ${String(heap.releasesMemory)}`);
  if (typeof heap.memory !== "object" || heap.memory === null)
    fail("heap.memory must be the Memory its blocks live in");
  const stats = heap.stats();
  if (stats.liveBlocks !== 0 || stats.liveBytes !== 0 || stats.requestedBytes !== 0) {
    fail(`a fresh heap must report no live blocks, got ${JSON.stringify(stats)}`);
  }
  const pageSize = pageSource?.pageSize ?? 4096;
  if (!isPowerOfTwo(pageSize))
    fail(`pageSource.pageSize must be a power of two, got ${String(pageSize)}`);
  return {
    name: heap.name,
    defaultAlign: heap.defaultAlign,
    maxAlign: heap.maxAlign,
    releasesMemory: heap.releasesMemory,
    pageSize,
    hasPageSource: pageSource !== undefined,
  };
}

/** The FlatPageSource extra the suite uses when a page source has it. */
interface PageOwnershipProbe {
  isInUse(addr: number): boolean;
}

function hasOwnershipProbe(
  source: PageSource | undefined,
): source is PageSource & PageOwnershipProbe {
  return (
    source !== undefined && typeof (source as Partial<PageOwnershipProbe>).isInUse === "function"
  );
}

/**
 * Drives one heap and keeps the suite's model of it: the live blocks (what the heap handed out
 * and what was written into them), recently freed pointers and the counters stats() must show.
 * Every operation checks its own result; {@link verifyAll} checks everything else. A broken
 * rule throws a {@link ConformanceViolation} that ends with the last steps taken.
 */
export class HeapHarness {
  readonly heap: Heap;
  readonly pageSource: PageSource | undefined;
  readonly memory: Memory;
  readonly libc: Libc;
  /** Live blocks, oldest first. */
  readonly live: TrackedBlock[] = [];
  private readonly freed: FreedPointer[] = [];
  private nextBlockId = 0;
  private readonly expected = { allocs: 0, frees: 0, failedAllocs: 0 };
  private readonly statsBaseline: HeapStats;
  private readonly pagesBaseline: number;
  private peakLiveBytesSeen = 0;
  private readonly trace: string[] = [];
  private stepNumber = 0;

  constructor(
    private readonly underTest: HeapUnderTest,
    readonly profile: HeapProfile,
    private readonly counters: HeapRunCounters = newRunCounters(),
    /** What the trace calls this heap's environment (page limit), for messages. */
    private readonly label = "",
  ) {
    this.heap = underTest.heap;
    this.pageSource = underTest.pageSource;
    this.memory = underTest.heap.memory;
    this.libc = new Libc(underTest.heap);
    this.statsBaseline = this.readStats();
    this.pagesBaseline = this.pageSource?.stats().pagesInUse ?? 0;
  }

  /** Tells the factory the suite is done with this heap (see HeapUnderTest.dispose). */
  dispose(): void {
    this.underTest.dispose?.();
  }

  get freedCount(): number {
    return this.freed.length;
  }

  /** Live bytes as the heap should count them: the sum of heap_size over live blocks. */
  get liveBytes(): number {
    let sum = 0;
    for (const block of this.live) sum += block.usable;
    return sum;
  }

  // ---- reporting ----

  /** Throws a violation of `check`, with the heap's name and the last steps. */
  fail(check: string, message: string, cause?: unknown): never {
    const where = `heap "${this.profile.name}"${this.label === "" ? "" : ` (${this.label})`}`;
    const steps =
      this.trace.length === 0
        ? ""
        : `\n  last steps of ${where}, oldest first:\n    ${this.trace.join("\n    ")}`;
    throw new ConformanceViolation(
      check,
      `${message}${steps === "" ? `\n  in ${where}` : steps}`,
      cause === undefined ? undefined : { cause },
    );
  }

  /** Adds a line to the step trace that violations print. */
  note(line: string): void {
    this.trace.push(`#${this.stepNumber} ${line}`);
    if (this.trace.length > TRACE_LINES) this.trace.shift();
  }

  /** Runs one step of a sequence, then checks every invariant. */
  step(action: () => void): void {
    this.stepNumber++;
    this.counters.steps++;
    action();
    this.verifyAll();
  }

  describe(block: TrackedBlock): string {
    return `b${block.id} @${hex(block.ptr)} (asked ${block.requested}, usable ${block.usable})`;
  }

  /** Runs a heap call, turning an unexpected throw into a violation. */
  private call<T>(what: string, action: () => T): T {
    try {
      return action();
    } catch (error) {
      if (error instanceof ConformanceViolation) throw error;
      return this.fail("unexpected-error", `${what} threw ${describeThrown(error)}`, error);
    }
  }

  private readStats(): HeapStats {
    return this.call("stats()", () => this.heap.stats());
  }

  private sizeOf(ptr: number): number {
    return this.call(`heap_size(${hex(ptr)})`, () => this.heap.heap_size(ptr));
  }

  // ---- operations ----

  /** heap_alloc(size, align) and adopt the block; undefined when the heap is out of memory. */
  allocate(size: number, align: number): TrackedBlock | undefined {
    const what = `heap_alloc(${size}, ${align})`;
    const failedCallsBefore = this.pageSource?.stats().failedCalls ?? 0;
    const ptr = this.call(what, () => this.heap.heap_alloc(size, align));
    if (ptr === 0) {
      this.acceptOutOfMemory(what, size, align, failedCallsBefore);
      this.expected.failedAllocs++;
      this.note(`${what} -> 0 (out of memory)`);
      return undefined;
    }
    const usable = this.validateNewBlock(
      what,
      ptr,
      size,
      requiredAlignment(align, this.profile.defaultAlign),
    );
    const block = this.track(
      ptr,
      size,
      usable,
      requiredAlignment(align, this.profile.defaultAlign),
      size,
      this.nextBlockId++,
      0,
      what,
    );
    this.writePattern(block);
    this.note(`${what} -> ${this.describe(block)}`);
    return block;
  }

  /** heap_free of a live block. */
  free(block: TrackedBlock): void {
    const what = `heap_free(${hex(block.ptr)})`;
    this.call(what, () => this.heap.heap_free(block.ptr));
    this.untrack(block);
    this.expected.frees++;
    this.note(`${what} freed ${this.describe(block)}`);
    this.expectForgotten(block, what);
  }

  /** Libc realloc of a live block, or of NULL when `block` is undefined. */
  realloc(block: TrackedBlock | undefined, size: number): void {
    if (block === undefined) {
      const what = `realloc(NULL, ${size})`;
      const failedCallsBefore = this.pageSource?.stats().failedCalls ?? 0;
      const ptr = this.call(what, () => this.libc.realloc(0, size));
      if (ptr === 0) {
        this.acceptOutOfMemory(what, size, 0, failedCallsBefore);
        this.expected.failedAllocs++;
        this.note(`${what} -> 0 (out of memory)`);
        return;
      }
      const usable = this.validateNewBlock(what, ptr, size, this.profile.defaultAlign);
      const fresh = this.track(
        ptr,
        size,
        usable,
        this.profile.defaultAlign,
        size,
        this.nextBlockId++,
        0,
        what,
      );
      this.writePattern(fresh);
      this.note(`${what} -> ${this.describe(fresh)}`);
      return;
    }
    if (block.usable === 0) {
      // Libc cannot tell a zero-usable block from a foreign pointer; nothing to exercise.
      this.note(`realloc(${hex(block.ptr)}, ${size}) skipped: b${block.id} has usable size 0`);
      return;
    }
    const what = `realloc(${hex(block.ptr)}, ${size})`;
    const failedCallsBefore = this.pageSource?.stats().failedCalls ?? 0;
    const result = this.call(what, () => this.libc.realloc(block.ptr, size));
    if (size === 0) {
      if (result !== 0)
        this.fail(
          "realloc",
          `${what} returned ${hex(result)}; realloc to 0 bytes frees the block and returns 0`,
        );
      this.untrack(block);
      this.expected.frees++;
      this.note(`${what} freed ${this.describe(block)}`);
      this.expectForgotten(block, what);
      return;
    }
    if (result === 0) {
      this.acceptOutOfMemory(what, size, 0, failedCallsBefore);
      this.expected.failedAllocs++;
      this.note(`${what} -> 0 (out of memory), ${this.describe(block)} kept`);
      return;
    }
    const preserved = Math.min(block.contentLength, size);
    if (result === block.ptr) {
      if (size > block.usable) {
        this.fail(
          "overlap",
          `${what} returned the block itself although ${size} > its usable ${block.usable}: heap_alloc handed out live block ${this.describe(block)} again`,
        );
      }
      this.verifyPattern(block, preserved, `after ${what} (in place)`);
      block.contentLength = size;
      this.writePattern(block);
      this.note(`${what} -> in place, ${this.describe(block)}`);
      return;
    }
    // Moved: Libc called heap_alloc while the old block was live, then heap_free on it. The old
    // block stays tracked until the new one is validated, so an overlap with it is caught.
    const usable = this.validateNewBlock(what, result, size, this.profile.defaultAlign);
    const moved = this.track(
      result,
      size,
      usable,
      this.profile.defaultAlign,
      preserved,
      block.id,
      block.generation,
      what,
    );
    this.verifyPattern(
      moved,
      preserved,
      `after ${what} moved b${block.id} from ${hex(block.ptr)} (the first ${preserved} bytes must be copied)`,
    );
    moved.contentLength = size;
    this.writePattern(moved);
    this.untrack(block);
    this.expected.frees++;
    this.counters.reallocMoves++;
    this.note(`${what} -> moved to ${this.describe(moved)}`);
    this.expectForgotten(block, what);
  }

  /** Rewrites a live block with a new pattern. */
  rewrite(block: TrackedBlock): void {
    block.generation++;
    this.writePattern(block);
    this.note(`write ${block.contentLength} bytes of pattern into ${this.describe(block)}`);
  }

  /** heap_size of a live block must still be its usable size. */
  expectSize(block: TrackedBlock): void {
    const size = this.sizeOf(block.ptr);
    this.note(`heap_size(${hex(block.ptr)}) -> ${size}`);
    if (size !== block.usable) {
      this.fail(
        "usable-size",
        `heap_size(${hex(block.ptr)}) returned ${size} for live ${this.describe(block)}; it was ${block.usable} when handed out`,
      );
    }
  }

  /**
   * A pointer the heap did not hand out, chosen by kind (see {@link FOREIGN_KINDS}), or
   * undefined when there is none of that kind now. `pick` and `offset` select among candidates.
   */
  foreignPointer(
    kind: ForeignKind,
    pick: number,
    offset: number,
  ): { ptr: number; what: string } | undefined {
    let candidate: { ptr: number; what: string } | undefined;
    switch (kind) {
      case "interior": {
        const block = this.pickLive(pick);
        const span = block === undefined ? 0 : Math.max(block.usable, 1);
        if (block === undefined || span < 2) return undefined;
        const delta = 1 + (offset % (span - 1));
        candidate = { ptr: block.ptr + delta, what: `interior pointer b${block.id}+${delta}` };
        break;
      }
      case "past-end": {
        const block = this.pickLive(pick);
        if (block === undefined) return undefined;
        candidate = {
          ptr: block.ptr + Math.max(block.usable, 1),
          what: `the address just past b${block.id}`,
        };
        break;
      }
      case "freed": {
        if (this.freed.length === 0) return undefined;
        const freed = this.freed[pick % this.freed.length]!;
        candidate = {
          ptr: freed.ptr,
          what: `freed pointer of b${freed.id} (freed at step #${freed.step})`,
        };
        break;
      }
      case "outside":
        candidate = {
          ptr: FAR_ADDRESS + 16 * (offset % 4096),
          what: "an address far outside the heap",
        };
        break;
      case "null-page":
        candidate = { ptr: 8 * (1 + (offset % 500)), what: "an address in page 0" };
        break;
    }
    // A freed pointer may have been handed out again; then it is not foreign any more.
    const chosen = candidate;
    return this.live.some((block) => block.ptr === chosen.ptr) ? undefined : chosen;
  }

  /** heap_size of a pointer the heap did not hand out must be 0 (and must not throw). */
  expectUnknown(ptr: number, what: string): void {
    const size = this.sizeOf(ptr);
    this.note(`heap_size(${hex(ptr)}) [${what}] -> ${size}`);
    if (size !== 0) {
      this.fail(
        "heap-size-probe",
        `heap_size(${hex(ptr)}) returned ${size} for ${what}; a pointer the heap did not hand out must read 0`,
      );
    }
  }

  /** heap_free of a pointer the heap did not hand out must throw a typed error naming it. */
  expectRejectedFree(ptr: number, what: string): void {
    const call = `heap_free(${hex(ptr)})`;
    let error: unknown;
    let threw = false;
    try {
      this.heap.heap_free(ptr);
    } catch (thrown) {
      threw = true;
      error = thrown;
    }
    if (!threw) {
      this.fail(
        "bad-free",
        `${call} of ${what} returned normally; it must throw an AllocatorError (EFAULT or EDOUBLEFREE) and change nothing`,
      );
    }
    if (!isAllocatorError(error)) {
      this.fail(
        "bad-free",
        `${call} of ${what} threw ${describeThrown(error)}, not an AllocatorError`,
        error,
      );
    }
    if (!BAD_POINTER_CODES.has(error.code)) {
      this.fail(
        "bad-free",
        `${call} of ${what} threw code ${error.code}; expected one of ${[...BAD_POINTER_CODES].join(", ")}`,
        error,
      );
    }
    if (!mentionsAddress(error.message, ptr)) {
      this.fail(
        "bad-free",
        `${call} of ${what}: the message "${error.message}" does not name the pointer (${ptr} or ${hex(ptr)})`,
        error,
      );
    }
    this.counters.rejectedCalls++;
    this.note(`${call} [${what}] -> ${error.code}`);
  }

  /** A malformed heap_alloc must throw AllocatorError EINVAL naming the value, changing nothing. */
  expectInvalidArgument(row: BadArgument): void {
    let result: unknown;
    let error: unknown;
    let threw = false;
    try {
      result = row.invoke(this.heap);
    } catch (thrown) {
      threw = true;
      error = thrown;
    }
    if (!threw)
      this.fail(
        "bad-argument",
        `${row.call} returned ${String(result)}; it must throw AllocatorError EINVAL and change nothing`,
      );
    if (!isAllocatorError(error))
      this.fail(
        "bad-argument",
        `${row.call} threw ${describeThrown(error)}, not an AllocatorError`,
        error,
      );
    if (error.code !== "EINVAL")
      this.fail("bad-argument", `${row.call} threw code ${error.code}, expected EINVAL`, error);
    if (!mentionsDecimal(error.message, row.value)) {
      this.fail(
        "bad-argument",
        `${row.call}: the message "${error.message}" does not contain the bad value ${String(row.value)}`,
        error,
      );
    }
    this.counters.rejectedCalls++;
    this.note(`${row.call} -> EINVAL`);
  }

  /** Frees every live block in `order`, checking the survivors after each free. */
  freeAll(order: FreeOrder): void {
    const blocks = [...this.live];
    let sequence: TrackedBlock[];
    if (order === "forward") sequence = blocks;
    else if (order === "reverse") sequence = blocks.reverse();
    else
      sequence = [...blocks.filter((_, i) => i % 2 === 0), ...blocks.filter((_, i) => i % 2 === 1)];
    this.note(`free all ${sequence.length} blocks, ${order}`);
    for (const block of sequence) {
      this.free(block);
      this.runCheck(`after heap_free(${hex(block.ptr)}) while freeing everything`);
      this.verifyPatterns();
    }
    this.verifyAll();
    this.verifyEmpty();
  }

  /** With nothing live: stats are zero and, when the heap says so, every page went back. */
  verifyEmpty(): void {
    if (this.live.length !== 0) throw new Error("verifyEmpty called with live blocks");
    this.verifyStats();
    if (this.pageSource !== undefined && this.profile.releasesMemory) {
      const pagesInUse = this.pageSource.stats().pagesInUse;
      if (pagesInUse !== this.pagesBaseline) {
        this.fail(
          "release",
          `after freeing every block the page source has ${pagesInUse} page(s) in use, ${this.pagesBaseline} before the first allocation; heap.releasesMemory is true, so every page must go back`,
        );
      }
    }
  }

  // ---- invariants ----

  /** check(), stable sizes, no overlap, intact patterns, stats, pages behind live blocks. */
  verifyAll(): void {
    this.runCheck("");
    for (const block of this.live) {
      const size = this.sizeOf(block.ptr);
      if (size !== block.usable) {
        this.fail(
          "usable-size",
          `heap_size(${hex(block.ptr)}) returned ${size} for live ${this.describe(block)}; it was ${block.usable} when handed out`,
        );
      }
    }
    this.verifyNoOverlap();
    this.verifyPatterns();
    this.verifyStats();
    this.verifyPagesInUse();
  }

  runCheck(when: string): void {
    try {
      this.heap.check();
    } catch (error) {
      this.fail(
        "check",
        `check() threw${when === "" ? "" : ` ${when}`}: ${describeThrown(error)}`,
        error,
      );
    }
  }

  verifyPatterns(): void {
    for (const block of this.live) this.verifyPattern(block, block.contentLength, "");
  }

  private verifyNoOverlap(): void {
    if (this.live.length < 2) return;
    const sorted = [...this.live].sort((a, b) => a.ptr - b.ptr);
    for (let i = 1; i < sorted.length; i++) {
      const before = sorted[i - 1]!;
      const after = sorted[i]!;
      if (before.ptr + Math.max(before.usable, 1) > after.ptr) {
        this.fail(
          "overlap",
          `live blocks overlap: ${this.describe(before)} and ${this.describe(after)}`,
        );
      }
    }
  }

  verifyStats(): void {
    const stats = this.readStats();
    const base = this.statsBaseline;
    let requested = 0;
    for (const block of this.live) requested += block.requested;
    const liveBytes = this.liveBytes;
    const mismatch = (field: string, actual: number, wanted: number, why: string): void => {
      if (actual !== wanted)
        this.fail("stats", `stats().${field} is ${actual}, expected ${wanted} (${why})`);
    };
    mismatch("liveBlocks", stats.liveBlocks, this.live.length, "blocks handed out and not freed");
    mismatch("liveBytes", stats.liveBytes, liveBytes, "sum of heap_size over live blocks");
    mismatch(
      "requestedBytes",
      stats.requestedBytes,
      requested,
      "sum of the sizes asked for over live blocks",
    );
    mismatch(
      "allocs",
      stats.allocs - base.allocs,
      this.expected.allocs,
      "successful heap_alloc calls since creation",
    );
    mismatch(
      "frees",
      stats.frees - base.frees,
      this.expected.frees,
      "heap_free calls that released a block",
    );
    mismatch(
      "failedAllocs",
      stats.failedAllocs - base.failedAllocs,
      this.expected.failedAllocs,
      "heap_alloc calls that returned 0",
    );
    if (stats.peakLiveBytes < this.peakLiveBytesSeen) {
      this.fail(
        "stats",
        `stats().peakLiveBytes is ${stats.peakLiveBytes}, but liveBytes reached ${this.peakLiveBytesSeen}`,
      );
    }
    if (this.pageSource !== undefined) {
      const source = this.pageSource.stats();
      const heapGrowth = stats.footprintBytes - base.footprintBytes;
      const sourceGrowth = (source.pagesInUse - this.pagesBaseline) * source.pageSize;
      if (heapGrowth !== sourceGrowth) {
        this.fail(
          "stats",
          `stats().footprintBytes grew by ${heapGrowth} since creation, but the page source's pages in use grew by ${sourceGrowth} bytes`,
        );
      }
    }
  }

  private verifyPagesInUse(): void {
    const source = this.pageSource;
    if (!hasOwnershipProbe(source)) return;
    const pageSize = source.pageSize;
    for (const block of this.live) {
      const last = block.ptr + Math.max(block.usable, 1) - 1;
      for (let page = block.ptr - (block.ptr % pageSize); page <= last; page += pageSize) {
        if (!source.isInUse(page)) {
          this.fail(
            "page-source",
            `live ${this.describe(block)} lies in page ${hex(page)}, which the page source has not handed out (or has taken back)`,
          );
        }
      }
    }
  }

  // ---- internals ----

  private pickLive(pick: number): TrackedBlock | undefined {
    return this.live.length === 0 ? undefined : this.live[pick % this.live.length];
  }

  /** Checks a pointer fresh from heap_alloc; returns its usable size. */
  private validateNewBlock(what: string, ptr: number, size: number, align: number): number {
    if (!Number.isSafeInteger(ptr) || ptr < 0)
      this.fail("pointer", `${what} returned ${String(ptr)}, not an address`);
    if (ptr % align !== 0) {
      this.fail(
        "alignment",
        `${what} returned ${hex(ptr)}, which is not aligned to ${align} (max(align, defaultAlign ${this.profile.defaultAlign}))`,
      );
    }
    const usable = this.sizeOf(ptr);
    if (usable < size)
      this.fail(
        "usable-size",
        `${what} returned ${hex(ptr)}, but heap_size says ${usable} < ${size} bytes asked for`,
      );
    const end = ptr + Math.max(usable, 1);
    for (const other of this.live) {
      if (ptr < other.ptr + Math.max(other.usable, 1) && other.ptr < end) {
        this.fail(
          "overlap",
          `${what} returned [${hex(ptr)}, ${hex(ptr + usable)}), which overlaps live ${this.describe(other)}`,
        );
      }
    }
    this.expected.allocs++;
    this.counters.allocations++;
    this.peakLiveBytesSeen = Math.max(this.peakLiveBytesSeen, this.liveBytes + usable);
    return usable;
  }

  private track(
    ptr: number,
    requested: number,
    usable: number,
    align: number,
    contentLength: number,
    id: number,
    generation: number,
    origin: string,
  ): TrackedBlock {
    const block: TrackedBlock = {
      id,
      ptr,
      requested,
      usable,
      align,
      contentLength,
      generation,
      origin,
    };
    this.live.push(block);
    return block;
  }

  private untrack(block: TrackedBlock): void {
    const index = this.live.indexOf(block);
    if (index >= 0) this.live.splice(index, 1);
    this.freed.push({ ptr: block.ptr, id: block.id, step: this.stepNumber });
    if (this.freed.length > FREED_REMEMBERED) this.freed.shift();
  }

  /** Right after a block is freed, heap_size of its pointer must read 0. */
  private expectForgotten(block: TrackedBlock, what: string): void {
    const size = this.sizeOf(block.ptr);
    if (size !== 0)
      this.fail(
        "heap-size-probe",
        `heap_size(${hex(block.ptr)}) returned ${size} right after ${what} freed b${block.id}; a freed pointer must read 0`,
      );
  }

  private acceptOutOfMemory(
    what: string,
    size: number,
    align: number,
    failedCallsBefore: number,
  ): void {
    const source = this.pageSource;
    if (source === undefined) {
      this.fail(
        "out-of-memory",
        `${what} returned 0; 0 means out of memory, and this heap has no page source the suite could see run out`,
      );
    }
    const stats = source.stats();
    if (stats.failedCalls > failedCallsBefore) {
      this.counters.outOfMemory++;
      return;
    }
    // A heap may see the limit coming without asking; accept that only when the request could
    // plausibly not fit in the pages left.
    const pagesLeft = stats.pageLimit - stats.pagesInUse;
    const pagesNeeded =
      Math.ceil((size + requiredAlignment(align, this.profile.defaultAlign)) / stats.pageSize) + 2;
    if (pagesLeft < pagesNeeded) {
      this.counters.outOfMemory++;
      return;
    }
    this.fail(
      "out-of-memory",
      `${what} returned 0 although its page source refused no request and has ${pagesLeft} page(s) left; 0 means out of memory`,
    );
  }

  private writePattern(block: TrackedBlock): void {
    if (block.contentLength === 0) return;
    const bytes = patternBytes(patternOffset(block.id, block.generation), block.contentLength);
    try {
      this.memory.writeBytes(block.ptr, bytes);
    } catch (error) {
      this.fail(
        "pattern",
        `writing ${block.contentLength} bytes into ${this.describe(block)} threw ${describeThrown(error)}`,
        error,
      );
    }
  }

  private verifyPattern(block: TrackedBlock, length: number, when: string): void {
    if (length === 0) return;
    const expected = patternBytes(patternOffset(block.id, block.generation), length);
    let actual: Uint8Array;
    try {
      actual = this.memory.readBytes(block.ptr, length);
    } catch (error) {
      return this.fail(
        "pattern",
        `reading ${length} bytes of ${this.describe(block)} threw ${describeThrown(error)}`,
        error,
      );
    }
    const at = firstMismatch(actual, expected);
    if (at < 0) return;
    let differing = 0;
    for (let i = at; i < length; i++) if (actual[i] !== expected[i]) differing++;
    const found = Array.from(actual.subarray(at, Math.min(length, at + 8)), (b) =>
      b.toString(16).padStart(2, "0"),
    ).join(" ");
    const wanted = Array.from(expected.subarray(at, Math.min(length, at + 8)), (b) =>
      b.toString(16).padStart(2, "0"),
    ).join(" ");
    this.fail(
      "pattern",
      `live ${this.describe(block)} from ${block.origin} was changed${when === "" ? "" : ` ${when}`}: at +${at} (${hex(block.ptr + at)}) found [${found}], expected [${wanted}]; ${differing} of its ${length} checked bytes differ. Something wrote into user data (metadata inside a live block, a block handed out twice, or a stray write)`,
    );
  }
}
