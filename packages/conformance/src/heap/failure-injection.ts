import { FAILURE_MODES, FailingPageSource } from "@allockit/core";
import type { FailureMode } from "@allockit/core";
import type { HeapFactory } from "./factory.js";
import { HeapHarness, createUnderTest, newRunCounters, profileHeap } from "./harness.js";
import type { HeapProfile, HeapRunCounters, TrackedBlock } from "./harness.js";
import { resolveHeapOptions } from "./options.js";
import type { HeapConformanceOptions, ResolvedHeapOptions } from "./options.js";

/** One operation of the fixed script the failure-injection check replays. */
export type ScriptOperation =
  | { readonly op: "alloc"; readonly id: number; readonly size: number; readonly align: number }
  | { readonly op: "free"; readonly id: number }
  | { readonly op: "realloc"; readonly id: number; readonly size: number };

/** What the failure-injection check did. */
export interface FailureInjectionReport {
  readonly heap: string;
  /** Set when the check could not run (no page source, or the factory ignores wrapPageSource). */
  readonly skipped?: string;
  /** Operations in the script. */
  readonly scriptLength: number;
  /** Page requests the script makes when nothing fails. */
  readonly pageRequests: number;
  /** Heaps built with one request failing, per mode. */
  readonly runs: Readonly<Record<FailureMode, number>>;
  /** heap_alloc / realloc calls that returned 0 over all runs. */
  readonly outOfMemory: number;
}

/** Operations in the script: enough to grow, shrink and regrow a heap a few times. */
export const FAILURE_SCRIPT_LENGTH = 64;

/** A small deterministic generator (mulberry32), so every run replays the same script. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A script of allocations (small, medium, page-sized, and multi-page up to `maxBlockSize`, some
 * aligned), frees and reallocs, from `seed`. Sizes and alignments stay within the suite's
 * limits; a heap that grows in large arenas is tested with a `maxBlockSize` above its arena size.
 */
export function failureScript(
  seed: number,
  profile: HeapProfile,
  settings: ResolvedHeapOptions,
  length = FAILURE_SCRIPT_LENGTH,
): ScriptOperation[] {
  const random = generator(seed);
  const below = (n: number): number => Math.floor(random() * n);
  const page = profile.pageSize;
  const maxAlign = Math.min(settings.maxAlign, profile.maxAlign);
  const aligns = [0, 0, 0, 16, 64, 256, page].filter((align) => align <= maxAlign);
  const size = (): number => {
    const kind = below(8);
    const raw =
      kind < 4
        ? 1 + below(256)
        : kind < 6
          ? 257 + below(1800)
          : kind < 7
            ? page - 64 + below(128)
            : page + below(Math.max(1, settings.maxBlockSize - page));
    return Math.min(raw, settings.maxBlockSize);
  };
  const script: ScriptOperation[] = [];
  const live: number[] = [];
  let nextId = 0;
  while (script.length < length) {
    const roll = below(10);
    if (live.length === 0 || roll < 5) {
      const id = nextId++;
      live.push(id);
      script.push({ op: "alloc", id, size: size(), align: aligns[below(aligns.length)]! });
    } else if (roll < 8) {
      const id = live.splice(below(live.length), 1)[0]!;
      script.push({ op: "free", id });
    } else {
      script.push({ op: "realloc", id: live[below(live.length)]!, size: 1 + size() });
    }
  }
  return script;
}

/** Runs the script on a harness; operations on blocks whose allocation failed are skipped. */
function runScript(harness: HeapHarness, script: readonly ScriptOperation[]): void {
  const blocks = new Map<number, TrackedBlock>();
  for (const operation of script) {
    if (operation.op === "alloc") {
      harness.step(() => {
        const block = harness.allocate(operation.size, operation.align);
        if (block !== undefined) blocks.set(operation.id, block);
      });
      continue;
    }
    const block = blocks.get(operation.id);
    if (block === undefined) continue;
    if (operation.op === "free") {
      blocks.delete(operation.id);
      harness.step(() => harness.free(block));
    } else {
      harness.step(() => harness.realloc(block, operation.size));
      // A moved block keeps its suite id; a failed realloc keeps the old one.
      const current = harness.live.find((candidate) => candidate.id === block.id);
      if (current !== undefined) blocks.set(operation.id, current);
    }
  }
}

/** Builds a heap whose page source is wrapped in a FailingPageSource, or says why it cannot. */
function buildWrapped(
  factory: HeapFactory,
  profile: HeapProfile,
  counters: HeapRunCounters,
  label: string,
): { harness: HeapHarness; failing: FailingPageSource } | string {
  let failing: FailingPageSource | undefined;
  const underTest = createUnderTest(factory, {
    wrapPageSource: (source) => (failing = new FailingPageSource(source)),
  });
  if (failing === undefined || underTest.pageSource !== failing) {
    underTest.dispose?.();
    return "the factory does not pass its page source through env.wrapPageSource";
  }
  return { harness: new HeapHarness(underTest, profile, counters, label), failing };
}

/** The request indexes to try: all of them, or evenly spread ones when there are too many. */
function failurePoints(requests: number, most: number): number[] {
  if (requests <= most) return Array.from({ length: requests }, (_, i) => i);
  const points = new Set<number>();
  for (let i = 0; i < most; i++) points.add(Math.floor((i * (requests - 1)) / (most - 1)));
  return [...points];
}

/**
 * Failure injection, as Zig's checkAllAllocationFailures does it: a fixed script runs once to
 * count the page requests it makes, then again on a fresh heap for every request N, with the
 * page source failing request N (mode `once`) or every request from N on (mode `from`). Each
 * time, a heap_alloc or realloc that needed the refused pages must return 0 (not throw), every
 * live block must stay intact, check() and the stats must hold after every step, and after the
 * survivors are freed every page must be back (when the heap releases memory).
 */
export function runFailureInjection(
  factory: HeapFactory,
  options: HeapConformanceOptions = {},
): FailureInjectionReport {
  const profile = profileHeap(factory);
  const settings = resolveHeapOptions(options, profile.pageSize);
  const script = failureScript(settings.seed, profile, settings);
  const counters = newRunCounters();
  const runs: Record<FailureMode, number> = { once: 0, from: 0 };
  const report = (pageRequests: number, skipped?: string): FailureInjectionReport => ({
    heap: profile.name,
    ...(skipped === undefined ? {} : { skipped }),
    scriptLength: script.length,
    pageRequests,
    runs,
    outOfMemory: counters.outOfMemory,
  });
  if (!profile.hasPageSource) return report(0, "the factory returns no pageSource");

  const dry = buildWrapped(factory, profile, counters, "failure injection, nothing fails");
  if (typeof dry === "string") return report(0, dry);
  let pageRequests: number;
  try {
    dry.failing.disarm();
    runScript(dry.harness, script);
    pageRequests = dry.failing.requests;
    dry.harness.step(() => dry.harness.freeAll("forward"));
  } finally {
    dry.harness.dispose();
  }
  if (counters.outOfMemory > 0) {
    dry.harness.fail(
      "failure-injection",
      `the failure-injection script ran out of memory with nothing failing (seed ${settings.seed}); give the factory more memory`,
    );
  }

  for (const mode of FAILURE_MODES) {
    for (const index of failurePoints(pageRequests, settings.maxFailurePoints)) {
      const label = `failure injection: page request #${index} fails${mode === "from" ? " and every later one" : ""}`;
      const built = buildWrapped(factory, profile, counters, label);
      if (typeof built === "string") return report(pageRequests, built);
      const { harness, failing } = built;
      try {
        failing.arm(index, mode);
        runScript(harness, script);
        if (!failing.tripped) {
          harness.fail(
            "failure-injection",
            `the script made only ${failing.requests} page request(s) this time, ${pageRequests} when nothing failed: the heap's requests are not deterministic before the first failure`,
          );
        }
        harness.step(() => harness.freeAll("reverse"));
      } finally {
        harness.dispose();
      }
      runs[mode]++;
    }
  }
  return report(pageRequests);
}
