import { describe, it } from "vitest";
import type { PmmFactory } from "./environment.js";
import { runPmmModel } from "./model-run.js";
import type { PmmModelReport } from "./model-run.js";
import { resolvePmmOptions } from "./options.js";
import type { PmmConformanceOptions } from "./options.js";
import { profilePmm } from "./profile.js";
import type { PmmProfile } from "./profile.js";
import {
  runPmmBadArguments,
  runPmmBadFrees,
  runPmmExhaustion,
  runPmmInit,
  runPmmPageSizes,
  runPmmReserve,
} from "./scenarios.js";
import type { PmmInitReport, PmmScenarioReport } from "./scenarios.js";

/** Everything {@link runPmmConformance} checked. */
export interface PmmConformanceReport {
  readonly profile: PmmProfile;
  readonly init: PmmInitReport;
  readonly pageSizes: PmmScenarioReport;
  readonly badArguments: PmmScenarioReport;
  readonly badFrees: PmmScenarioReport;
  readonly reserve: PmmScenarioReport;
  readonly exhaustion: PmmScenarioReport;
  readonly model: PmmModelReport;
}

/**
 * Runs the whole PMM suite without vitest (a CLI, a script, a test that expects failure):
 * throws the first {@link ConformanceViolation}, else returns what was checked.
 */
export function runPmmConformance(
  factory: PmmFactory,
  options: PmmConformanceOptions = {},
): PmmConformanceReport {
  const settings = resolvePmmOptions(options);
  // One seed for every check, so a report's seed replays all of them.
  const fixed = { ...options, seed: settings.seed, numRuns: settings.numRuns };
  return {
    profile: profilePmm(factory),
    init: runPmmInit(factory, fixed),
    pageSizes: runPmmPageSizes(factory, fixed),
    badArguments: runPmmBadArguments(factory, fixed),
    badFrees: runPmmBadFrees(factory, fixed),
    reserve: runPmmReserve(factory, fixed),
    exhaustion: runPmmExhaustion(factory, fixed),
    model: runPmmModel(factory, fixed),
  };
}

/**
 * Declares the PMM conformance suite as a vitest `describe(name)` block. Call it at the top
 * level of a test file; `factory` must return a fresh, un-initialised PMM on every call (the
 * suite builds the machine, the memory map and the boot allocator, and calls `init`).
 *
 * @example
 * pmmConformance("my-pmm", () => new MyPmm());
 */
export function pmmConformance(
  name: string,
  factory: PmmFactory,
  options: PmmConformanceOptions = {},
): void {
  // Resolved once up front so a bad option or env var fails loudly at collection time, and
  // every test shares one seed.
  const settings = resolvePmmOptions(options);
  const fixed = { ...options, seed: settings.seed, numRuns: settings.numRuns };
  const timeout = settings.timeoutMs;
  describe(name, () => {
    it("declares a name and sane capabilities (contiguous, maxContiguousFrames, constraints, pageSizes)", () => {
      profilePmm(factory);
    });
    it(
      "inits over every preset, real and generated map: frame counts, zones, capped boot allocator, sparse init",
      () => {
        runPmmInit(factory, fixed);
      },
      timeout,
    );
    it(
      "hands out every declared page size naturally aligned",
      () => {
        runPmmPageSizes(factory, fixed);
      },
      timeout,
    );
    it(
      "rejects malformed requests (EINVAL) and undeclared ones (EUNSUPPORTED), changing nothing",
      () => {
        runPmmBadArguments(factory, fixed);
      },
      timeout,
    );
    it(
      "rejects double, reserved, out-of-RAM and misaligned frees with a typed error, changing nothing",
      () => {
        runPmmBadFrees(factory, fixed);
      },
      timeout,
    );
    it(
      "reserve() takes free frames out for good and refuses allocated ones",
      () => {
        runPmmReserve(factory, fixed);
      },
      timeout,
    );
    it(
      "runs out exactly at the free count, per zone too, and recovers after frees",
      () => {
        runPmmExhaustion(factory, fixed);
      },
      timeout,
    );
    it(
      `keeps every invariant over ${settings.numRuns} random operation sequences (model-based)`,
      () => {
        runPmmModel(factory, fixed);
      },
      timeout,
    );
  });
}
