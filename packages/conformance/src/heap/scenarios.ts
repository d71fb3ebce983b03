import { isAllocatorError } from "@allockit/core";
import { describeThrown } from "../violation.js";
import type { HeapEnvironment, HeapFactory } from "./factory.js";
import {
  BAD_POINTER_CODES,
  FREE_ORDERS,
  HeapHarness,
  createUnderTest,
  mentionsDecimal,
  newRunCounters,
  profileHeap,
} from "./harness.js";
import type { HeapProfile, HeapRunCounters, TrackedBlock } from "./harness.js";
import { resolveHeapOptions } from "./options.js";
import type { HeapConformanceOptions, ResolvedHeapOptions } from "./options.js";
import { badAllocArguments } from "./bad-arguments.js";
import type { BadArgument } from "./bad-arguments.js";

/** What a deterministic scenario did. */
export interface ScenarioReport {
  readonly heap: string;
  /** Calls or cases the scenario checked. */
  readonly checked: number;
  /** Set when the scenario could not run on this heap (for example: no page source). */
  readonly skipped?: string;
}

interface Prepared {
  readonly profile: HeapProfile;
  readonly settings: ResolvedHeapOptions;
}

function prepare(factory: HeapFactory, options: HeapConformanceOptions): Prepared {
  const profile = profileHeap(factory);
  return { profile, settings: resolveHeapOptions(options, profile.pageSize) };
}

/** Runs `body` on a fresh heap, disposing of the heap afterwards whatever happens. */
function withFreshHeap<T>(
  factory: HeapFactory,
  profile: HeapProfile,
  env: HeapEnvironment,
  body: (harness: HeapHarness) => T,
  counters: HeapRunCounters = newRunCounters(),
): T {
  const label = env.pageLimit === undefined ? "" : `pageLimit ${env.pageLimit}`;
  const harness = new HeapHarness(createUnderTest(factory, env), profile, counters, label);
  try {
    return body(harness);
  } finally {
    harness.dispose();
  }
}

/** Alignments 0, 1, 2, 4 ... up to the smaller of the suite's and the heap's maximum. */
function alignmentsUpTo(limit: number): number[] {
  const aligns = [0];
  for (let align = 1; align <= limit; align *= 2) aligns.push(align);
  return aligns;
}

/** Allocates a few blocks of assorted shapes that must all succeed. */
function populate(harness: HeapHarness, settings: ResolvedHeapOptions): TrackedBlock[] {
  const page = harness.profile.pageSize;
  const maxAlign = Math.min(settings.maxAlign, harness.profile.maxAlign);
  const shapes: [number, number][] = [
    [24, 0],
    [100, 64],
    [0, 0],
    [page + 8, 0],
    [1, 16],
    [300, page],
    [2 * page, 0],
    [40, 0],
  ];
  const blocks: TrackedBlock[] = [];
  for (const [size, align] of shapes) {
    if (size > settings.maxBlockSize || align > maxAlign) continue;
    harness.step(() => {
      const block = harness.allocate(size, align);
      if (block === undefined)
        harness.fail(
          "out-of-memory",
          `heap_alloc(${size}, ${align}) returned 0 on a nearly empty heap`,
        );
      blocks.push(block);
    });
  }
  return blocks;
}

/**
 * Every alignment (0, 1, 2 ... maxAlign) with sizes around 0, the default alignment and page
 * boundaries, all live at once: pointers aligned, heap_size >= size, no overlap, contents
 * intact; then everything is freed.
 */
export function runAlignmentSweep(
  factory: HeapFactory,
  options: HeapConformanceOptions = {},
): ScenarioReport {
  const { profile, settings } = prepare(factory, options);
  const page = profile.pageSize;
  const d = profile.defaultAlign;
  const sizes = [0, 1, d - 1, d, d + 1, 2 * d, 100, page - 1, page, page + 1, 3 * page + 5].filter(
    (size) => size <= settings.maxBlockSize,
  );
  const aligns = alignmentsUpTo(Math.min(settings.maxAlign, profile.maxAlign));
  withFreshHeap(factory, profile, {}, (harness) => {
    for (const align of aligns) {
      for (const size of sizes) {
        harness.step(() => {
          if (harness.allocate(size, align) === undefined) {
            harness.fail(
              "out-of-memory",
              `heap_alloc(${size}, ${align}) returned 0 with ${harness.live.length} small blocks live`,
            );
          }
        });
      }
    }
    harness.step(() => harness.freeAll("interleaved"));
  });
  return { heap: profile.name, checked: aligns.length * sizes.length };
}

/**
 * heap_alloc with a negative, NaN, fractional, unsafe or infinite size, or an alignment that is
 * not a power of two or exceeds maxAlign, throws AllocatorError EINVAL whose message contains
 * the value; afterwards check() passes, every live block is intact and stats are unchanged.
 */
export function runBadArgumentTable(
  factory: HeapFactory,
  options: HeapConformanceOptions = {},
): ScenarioReport {
  const { profile, settings } = prepare(factory, options);
  const rows = badAllocArguments(profile.maxAlign);
  withFreshHeap(factory, profile, {}, (harness) => checkBadArguments(harness, settings, rows));
  return { heap: profile.name, checked: rows.length };
}

function checkBadArguments(
  harness: HeapHarness,
  settings: ResolvedHeapOptions,
  rows: readonly BadArgument[],
): void {
  populate(harness, settings);
  for (const row of rows) harness.step(() => harness.expectInvalidArgument(row));
  harness.step(() => harness.freeAll("reverse"));
}

/**
 * heap_size of foreign, interior and freed pointers is 0, and heap_free of them throws an
 * AllocatorError (EFAULT / EDOUBLEFREE / EINVAL) naming the pointer; malformed pointer values
 * (negative, fractional, NaN) are refused the same way; heap_free(0) does nothing. After each,
 * check() passes, every live block is intact and stats are unchanged.
 */
export function runBadPointerTable(
  factory: HeapFactory,
  options: HeapConformanceOptions = {},
): ScenarioReport {
  const { profile, settings } = prepare(factory, options);
  const checked = withFreshHeap(factory, profile, {}, (harness) => {
    // A pointer handed out by another instance of the same heap is as foreign as any.
    const other = createUnderTest(factory, {});
    try {
      let otherPtr = 0;
      try {
        otherPtr = other.heap.heap_alloc(48, 0);
      } catch {
        // Not this heap's problem to report here; the other checks catch a throwing heap_alloc.
      }
      return checkBadPointers(harness, settings, otherPtr);
    } finally {
      other.dispose?.();
    }
  });
  return { heap: profile.name, checked };
}

function checkBadPointers(
  harness: HeapHarness,
  settings: ResolvedHeapOptions,
  otherPtr: number,
): number {
  const profile = harness.profile;
  const blocks = populate(harness, settings);
  // Free some blocks so there are freed pointers, then allocate again so some may be reused.
  for (const block of blocks.filter((_, i) => i % 3 === 1)) harness.step(() => harness.free(block));
  harness.step(() => harness.allocate(24, 0));

  const targets: { ptr: number; what: string }[] = [];
  const seen = new Set<number>();
  const add = (ptr: number, what: string): void => {
    if (seen.has(ptr) || harness.live.some((block) => block.ptr === ptr)) return;
    seen.add(ptr);
    targets.push({ ptr, what });
  };
  for (const block of blocks) {
    if (!harness.live.includes(block)) add(block.ptr, `freed pointer of b${block.id}`);
  }
  for (const block of harness.live) {
    const span = Math.max(block.usable, 1);
    if (span >= 2) {
      add(block.ptr + 1, `interior pointer b${block.id}+1`);
      add(block.ptr + span - 1, `interior pointer b${block.id}+${span - 1} (its last byte)`);
      if (profile.defaultAlign < span)
        add(
          block.ptr + profile.defaultAlign,
          `interior pointer b${block.id}+${profile.defaultAlign}`,
        );
    }
    add(block.ptr + span, `the address just past b${block.id}`);
  }
  add(8, "an address in page 0");
  add(profile.pageSize - 8, "the last 8 bytes of page 0");
  add(2 ** 40, "an address far outside the heap");
  add(2 ** 40 + profile.defaultAlign, "an address far outside the heap");
  if (otherPtr !== 0) add(otherPtr, "a pointer handed out by another heap instance");

  for (const target of targets) {
    harness.step(() => harness.expectUnknown(target.ptr, target.what));
    harness.step(() => harness.expectRejectedFree(target.ptr, target.what));
  }
  let checked = targets.length * 2;

  for (const value of [-8, 1.5, Number.NaN]) {
    harness.step(() => {
      const call = `heap_free(${String(value)})`;
      try {
        harness.heap.heap_free(value);
      } catch (error) {
        if (!isAllocatorError(error))
          harness.fail(
            "bad-free",
            `${call} threw ${describeThrown(error)}, not an AllocatorError`,
            error,
          );
        if (!BAD_POINTER_CODES.has(error.code))
          harness.fail("bad-free", `${call} threw code ${error.code}, expected EINVAL`, error);
        if (!mentionsDecimal(error.message, value)) {
          harness.fail(
            "bad-free",
            `${call}: the message "${error.message}" does not contain the bad value ${String(value)}`,
            error,
          );
        }
        harness.note(`${call} -> ${error.code}`);
        return;
      }
      harness.fail(
        "bad-free",
        `${call} returned normally; a malformed pointer must throw AllocatorError EINVAL`,
      );
    });
    checked++;
  }
  harness.step(() => {
    try {
      harness.heap.heap_free(0);
    } catch (error) {
      harness.fail(
        "bad-free",
        `heap_free(0) threw ${describeThrown(error)}; freeing NULL does nothing`,
        error,
      );
    }
    harness.note("heap_free(0) -> nothing");
  });
  checked++;
  harness.step(() => harness.freeAll("forward"));
  return checked;
}

/**
 * With a small page limit: heap_alloc returns 0 (never throws) once the page source is
 * exhausted, with every live block intact; after freeing every other block the same request
 * succeeds again; after freeing everything stats are empty (and pages back when the heap
 * releases memory) and the heap allocates again. Runs for small, medium, multi-page and
 * page-aligned blocks.
 */
export function runOutOfMemory(
  factory: HeapFactory,
  options: HeapConformanceOptions = {},
): ScenarioReport {
  const { profile, settings } = prepare(factory, options);
  if (!profile.hasPageSource)
    return { heap: profile.name, checked: 0, skipped: "the factory returns no pageSource" };
  const limit = settings.outOfMemoryPageLimit;
  const page = profile.pageSize;
  const maxAlign = Math.min(settings.maxAlign, profile.maxAlign);
  const shapes = (
    [
      [48, 0],
      [1000, 64],
      [2 * page + 100, 0],
      [page, page],
    ] as [number, number][]
  ).filter(([size, align]) => size <= settings.maxBlockSize && align <= maxAlign);
  const counters = newRunCounters();
  let checked = 0;
  for (const [size, align] of shapes) {
    checked += withFreshHeap(
      factory,
      profile,
      { pageLimit: limit },
      (harness) => exhaustAndRecover(harness, limit, size, align),
      counters,
    );
  }
  return { heap: profile.name, checked };
}

/** Fills a heap with `size` blocks until heap_alloc returns 0, then frees and allocates again. */
function exhaustAndRecover(
  harness: HeapHarness,
  limit: number,
  size: number,
  align: number,
): number {
  const call = `heap_alloc(${size}, ${align})`;
  const cap = Math.ceil((limit * harness.profile.pageSize) / Math.max(size, 1)) * 4 + 64;
  let filled = 0;
  let exhausted = false;
  while (!exhausted) {
    harness.step(() => {
      exhausted = harness.allocate(size, align) === undefined;
    });
    if (exhausted) break;
    if (++filled > cap) {
      harness.fail(
        "out-of-memory",
        `with pageLimit ${limit}, ${filled} calls of ${call} all succeeded; heap_alloc must return 0 once its page source is exhausted`,
      );
    }
  }
  if (filled === 0) {
    harness.fail(
      "out-of-memory",
      `${call} returned 0 on a fresh heap with pageLimit ${limit} (raise outOfMemoryPageLimit if the heap needs more pages to start)`,
    );
  }
  // Still exhausted: asking again must be just as harmless.
  harness.step(() => harness.allocate(size, align));
  const survivors = [...harness.live];
  const freed = survivors.filter((_, i) => i % 2 === 0);
  for (const block of freed) harness.step(() => harness.free(block));
  harness.step(() => {
    if (harness.allocate(size, align) === undefined) {
      harness.fail(
        "out-of-memory",
        `after freeing ${freed.length} of ${survivors.length} blocks, ${call} still returned 0; freed memory must be reusable`,
      );
    }
  });
  harness.step(() => harness.freeAll("reverse"));
  harness.step(() => {
    if (harness.allocate(size, align) === undefined) {
      harness.fail(
        "out-of-memory",
        `after freeing everything, ${call} returned 0; the heap did not recover from running out`,
      );
    }
  });
  harness.step(() => harness.freeAll("forward"));
  return filled + 4;
}

/**
 * Fills the heap with assorted blocks and frees them all, in each order (forward, reverse,
 * interleaved): stats return to zero live blocks and bytes, and when `heap.releasesMemory`
 * every page goes back to the page source.
 */
export function runReleaseScenario(
  factory: HeapFactory,
  options: HeapConformanceOptions = {},
): ScenarioReport {
  const { profile, settings } = prepare(factory, options);
  const page = profile.pageSize;
  const maxAlign = Math.min(settings.maxAlign, profile.maxAlign);
  const sizes = [8, 40, 100, 500, 1024, page - 8, page, 2 * page + 1, 0, 16, 3000, 64].filter(
    (size) => size <= settings.maxBlockSize,
  );
  const aligns = [0, 16, 64, page, 0, 8].filter((align) => align <= maxAlign);
  withFreshHeap(factory, profile, {}, (harness) => {
    for (const order of FREE_ORDERS) {
      for (let round = 0; round < 2; round++) {
        sizes.forEach((size, i) => {
          const align = aligns[(i + round) % aligns.length]!;
          harness.step(() => {
            if (harness.allocate(size, align) === undefined)
              harness.fail("out-of-memory", `heap_alloc(${size}, ${align}) returned 0`);
          });
        });
      }
      harness.step(() => harness.freeAll(order));
    }
  });
  return { heap: profile.name, checked: FREE_ORDERS.length * 2 * sizes.length };
}
