import fc from "fast-check";
import { heapCommandArbitraries } from "./commands.js";
import type { HeapFactory, HeapEnvironment } from "./factory.js";
import {
  FREE_ORDERS,
  HeapHarness,
  createUnderTest,
  newRunCounters,
  profileHeap,
} from "./harness.js";
import type { FreeOrder, HeapProfile } from "./harness.js";
import { resolveHeapOptions } from "./options.js";
import type { HeapConformanceOptions } from "./options.js";

/** What a passing model run did. */
export interface HeapModelReport {
  readonly heap: string;
  readonly numRuns: number;
  readonly maxCommands: number;
  /** Seed that replays the runs (pass it as `seed`, or set ALLOCKIT_FUZZ_SEED). */
  readonly seed: number;
  /** Commands executed over all runs (including the final free-everything). */
  readonly steps: number;
  /** Blocks handed out (heap_alloc, and realloc that moved or started from NULL). */
  readonly allocations: number;
  /** heap_alloc / realloc calls that returned 0 because the page source ran out. */
  readonly outOfMemory: number;
  /** Foreign, interior and freed pointers that heap_free rightly rejected. */
  readonly rejectedCalls: number;
  /** realloc calls that moved their block. */
  readonly reallocMoves: number;
}

/** How one run's heap is built and how the run ends; prints readably in failure reports. */
class RunSetup {
  constructor(
    readonly env: HeapEnvironment,
    readonly finalOrder: FreeOrder,
  ) {}
  get label(): string {
    return this.env.pageLimit === undefined ? "" : `pageLimit ${this.env.pageLimit}`;
  }
  [fc.toStringMethod](): string {
    return `setup(${this.env.pageLimit === undefined ? "no page limit" : this.label}, ends with freeAll(${this.finalOrder}))`;
  }
}

/**
 * Mostly no page limit, sometimes a small one so that out of memory happens in the middle of
 * a sequence (only for heaps with a visible page source); and the order of the final frees.
 */
function runSetupArbitrary(
  profile: HeapProfile,
  outOfMemoryPageLimit: number,
): fc.Arbitrary<RunSetup> {
  const limited = fc
    .integer({ min: Math.ceil(outOfMemoryPageLimit / 2), max: 2 * outOfMemoryPageLimit })
    .map((pageLimit): HeapEnvironment => ({ pageLimit }));
  const env: fc.Arbitrary<HeapEnvironment> = profile.hasPageSource
    ? fc.oneof({ weight: 2, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: limited })
    : fc.constant({});
  return fc
    .tuple(env, fc.constantFrom<FreeOrder>(...FREE_ORDERS))
    .map(([e, order]) => new RunSetup(e, order));
}

/**
 * The model-based check: random sequences of heap_alloc, heap_free, heap_size, realloc, block
 * writes, foreign-pointer probes and rejected frees, each followed by a check of every
 * invariant, and a final free-everything that expects empty stats (and all pages back when
 * the heap releases memory). Throws on the first violation with fast-check's report: the seed
 * and path that replay it, the shrunk command sequence, and the violation with the last steps.
 */
export function runHeapModel(
  factory: HeapFactory,
  options: HeapConformanceOptions = {},
): HeapModelReport {
  const profile = profileHeap(factory);
  const settings = resolveHeapOptions(options, profile.pageSize);
  const maxAlign = Math.min(settings.maxAlign, profile.maxAlign);
  const counters = newRunCounters();
  const property = fc.property(
    runSetupArbitrary(profile, settings.outOfMemoryPageLimit),
    fc.commands(
      heapCommandArbitraries(profile, { maxBlockSize: settings.maxBlockSize, maxAlign }),
      {
        maxCommands: settings.maxCommands,
        // fast-check's default "small" size would keep sequences to a handful of commands.
        size: "max",
        ...(settings.replayPath === undefined ? {} : { replayPath: settings.replayPath }),
      },
    ),
    (setup, commands) => {
      const harness = new HeapHarness(
        createUnderTest(factory, setup.env),
        profile,
        counters,
        setup.label,
      );
      try {
        fc.modelRun(() => ({ model: harness, real: harness }), commands);
        harness.step(() => harness.freeAll(setup.finalOrder));
      } finally {
        harness.dispose();
      }
    },
  );
  fc.assert(property, {
    numRuns: settings.numRuns,
    seed: settings.seed,
    // The violation belongs in the message itself, not only in `cause`: it is what to fix.
    includeErrorInReport: true,
    ...(settings.path === undefined ? {} : { path: settings.path }),
  });
  return {
    heap: profile.name,
    numRuns: settings.numRuns,
    maxCommands: settings.maxCommands,
    seed: settings.seed,
    ...counters,
  };
}
