import { describe, it } from "vitest";
import type { HeapFactory } from "./factory.js";
import { runFailureInjection } from "./failure-injection.js";
import type { FailureInjectionReport } from "./failure-injection.js";
import { profileHeap } from "./harness.js";
import type { HeapProfile } from "./harness.js";
import { runHeapModel } from "./model-run.js";
import type { HeapModelReport } from "./model-run.js";
import { resolveHeapOptions } from "./options.js";
import type { HeapConformanceOptions } from "./options.js";
import {
  runAlignmentSweep,
  runBadArgumentTable,
  runBadPointerTable,
  runOutOfMemory,
  runReleaseScenario,
} from "./scenarios.js";
import type { ScenarioReport } from "./scenarios.js";

/** Everything {@link runHeapConformance} checked. */
export interface HeapConformanceReport {
  readonly profile: HeapProfile;
  readonly alignmentSweep: ScenarioReport;
  readonly badArguments: ScenarioReport;
  readonly badPointers: ScenarioReport;
  readonly outOfMemory: ScenarioReport;
  readonly release: ScenarioReport;
  readonly failureInjection: FailureInjectionReport;
  readonly model: HeapModelReport;
}

/**
 * Runs the whole heap suite without vitest (a CLI, a script, a test that expects failure):
 * throws the first {@link ConformanceViolation} (inside fast-check's report for the model run),
 * else returns what was checked.
 */
export function runHeapConformance(
  factory: HeapFactory,
  options: HeapConformanceOptions = {},
): HeapConformanceReport {
  const profile = profileHeap(factory);
  return {
    profile,
    alignmentSweep: runAlignmentSweep(factory, options),
    badArguments: runBadArgumentTable(factory, options),
    badPointers: runBadPointerTable(factory, options),
    outOfMemory: runOutOfMemory(factory, options),
    release: runReleaseScenario(factory, options),
    failureInjection: runFailureInjection(factory, options),
    model: runHeapModel(factory, options),
  };
}

/**
 * Declares the heap conformance suite as a vitest `describe(name)` block. Call it at the top
 * level of a test file; `factory` must build a fresh, empty heap on every call.
 *
 * @example
 * heapConformance("my-heap", flatHeapFactory((source) => new MyHeap(source)));
 */
export function heapConformance(
  name: string,
  factory: HeapFactory,
  options: HeapConformanceOptions = {},
): void {
  // Resolved once up front so a bad option or env var fails loudly at collection time.
  const settings = resolveHeapOptions(options);
  const timeout = settings.timeoutMs;
  describe(name, () => {
    it("declares sane properties (name, defaultAlign, maxAlign, releasesMemory, empty stats)", () => {
      profileHeap(factory);
    });
    it(
      "honours every alignment with sizes around the default alignment and page boundaries",
      () => {
        runAlignmentSweep(factory, options);
      },
      timeout,
    );
    it(
      "rejects malformed sizes and alignments with EINVAL naming the value, changing nothing",
      () => {
        runBadArgumentTable(factory, options);
      },
      timeout,
    );
    it(
      "rejects foreign, interior and freed pointers (heap_size 0, heap_free throws), changing nothing",
      () => {
        runBadPointerTable(factory, options);
      },
      timeout,
    );
    it(
      "returns 0 when its page source runs out, and recovers after frees",
      (context) => {
        const report = runOutOfMemory(factory, options);
        if (report.skipped !== undefined) context.skip(report.skipped);
      },
      timeout,
    );
    it(
      "empties its stats and (when it releases memory) returns every page after freeing everything",
      () => {
        runReleaseScenario(factory, options);
      },
      timeout,
    );
    it(
      "fails each page request in turn (and every request from it on) and stays consistent",
      (context) => {
        const report = runFailureInjection(factory, options);
        if (report.skipped !== undefined) context.skip(report.skipped);
      },
      timeout,
    );
    it(
      `keeps every invariant over ${settings.numRuns} random operation sequences (model-based)`,
      () => {
        runHeapModel(factory, { ...options, seed: settings.seed, numRuns: settings.numRuns });
      },
      timeout,
    );
  });
}
