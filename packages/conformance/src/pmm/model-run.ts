import { GiB, normalizeMemoryMap } from "@allockit/core";
import fc from "fast-check";
import { ConformanceViolation, describeThrown, isConformanceViolation } from "../violation.js";
import { pmmCommandArbitraries } from "./commands.js";
import { PmmEnvironment } from "./environment.js";
import type { PmmFactory } from "./environment.js";
import { PMM_FREE_ORDERS, PmmHarness, newPmmCounters } from "./harness.js";
import type { PmmFreeOrder, PmmRunCounters } from "./harness.js";
import {
  GENERATED_MAPS,
  buildMessyMap,
  describeMap,
  messyMapShapeArbitrary,
  presetTestMaps,
  realTestMaps,
} from "./maps.js";
import type { MessyMapShape, PmmTestMap } from "./maps.js";
import { resolvePmmOptions } from "./options.js";
import type { PmmConformanceOptions, ResolvedPmmOptions } from "./options.js";
import { profilePmm } from "./profile.js";
import type { PmmProfile } from "./profile.js";

/** Maps above this much usable RAM get fewer and shorter sequences. */
const BIG_MAP_BYTES = 4 * GiB;
/** Share of timeoutMs the model run may take before it stops and reports. */
const TIME_BUDGET_SHARE = 0.85;
/** check() after every step only up to this many managed frames (1 GiB). */
const CHECK_EVERY_STEP_FRAMES = 262144;

/** Sequences run on one map (or on generated maps). */
export interface PmmModelGroup {
  readonly map: string;
  readonly runs: number;
  readonly maxCommands: number;
}

/** What a passing model run did. */
export interface PmmModelReport extends PmmRunCounters {
  readonly pmm: string;
  readonly numRuns: number;
  readonly seed: number;
  readonly groups: readonly PmmModelGroup[];
}

/** A model group with its share of the runs. */
export interface GroupPlan extends PmmModelGroup {
  readonly fixed: PmmTestMap | undefined;
}

function usableBytes(testMap: PmmTestMap): number {
  let total = 0;
  for (const e of normalizeMemoryMap(testMap.map).map) if (e.type === "usable") total += e.length;
  return total;
}

/**
 * Spreads the sequences: 1% (at least 2) on each map above 4 GiB, 4% (at least 3) on each
 * other preset and real map, the rest (at least half) on generated messy maps. With `maps`,
 * the chosen groups share the runs evenly.
 */
export function planModelGroups(settings: ResolvedPmmOptions): GroupPlan[] {
  const fixed = [...presetTestMaps(), ...realTestMaps()];
  const total = settings.numRuns;
  const shortCommands = Math.max(1, Math.ceil(settings.maxCommands / 2));
  const plans: GroupPlan[] = fixed.map((testMap) => {
    const big = usableBytes(testMap) > BIG_MAP_BYTES;
    return {
      map: testMap.name,
      fixed: testMap,
      runs: big ? Math.max(2, Math.round(total * 0.01)) : Math.max(3, Math.round(total * 0.04)),
      maxCommands: big ? shortCommands : settings.maxCommands,
    };
  });
  const used = plans.reduce((sum, plan) => sum + plan.runs, 0);
  plans.unshift({
    map: GENERATED_MAPS,
    fixed: undefined,
    runs: Math.max(total - used, Math.ceil(total / 2)),
    maxCommands: settings.maxCommands,
  });
  const wanted = settings.maps;
  if (wanted === undefined) return plans;
  const known = new Set(plans.map((p) => p.map));
  const unknown = wanted.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new RangeError(
      `PMM conformance option maps names ${unknown.map((n) => JSON.stringify(n)).join(", ")}; known maps: ${[...known].join(", ")}`,
    );
  }
  const chosen = plans.filter((p) => wanted.includes(p.map));
  const share = Math.max(1, Math.ceil(total / chosen.length));
  return chosen.map((p) => ({ ...p, runs: share }));
}

/** A generated map and the final free order; prints the map so a failure can be rebuilt. */
class GeneratedSetup {
  readonly testMap: PmmTestMap;
  constructor(
    readonly shape: MessyMapShape,
    readonly finalOrder: PmmFreeOrder,
  ) {
    this.testMap = { name: GENERATED_MAPS, kind: "generated", map: buildMessyMap(shape) };
  }
  [fc.toStringMethod](): string {
    return `setup(map ${describeMap(this.testMap.map)}, shape ${JSON.stringify(this.shape)}, ends with freeAll(${this.finalOrder}))`;
  }
}

/**
 * The model-based check: per map group, random sequences of allocFrames (with constraint sets
 * drawn from the declared ones), whole and partial frees, reserve(), rejected frees, allocs
 * and reserves, pattern rewrites and check(), each followed by every invariant, and a final
 * free-everything that expects the initial free count back. Throws a ConformanceViolation with
 * fast-check's report (seed, path, shrunk sequence), the violation and how to replay it.
 */
export function runPmmModel(
  factory: PmmFactory,
  options: PmmConformanceOptions = {},
): PmmModelReport {
  const profile = profilePmm(factory);
  const settings = resolvePmmOptions(options);
  const counters = newPmmCounters();
  const groups = planModelGroups(settings);
  // Stop (and say why) before vitest's timeout would kill the run without a report.
  const deadline = Date.now() + Math.floor(settings.timeoutMs * TIME_BUDGET_SHARE);
  for (const group of groups) runGroup(factory, profile, settings, group, counters, deadline);
  return {
    pmm: profile.name,
    numRuns: groups.reduce((sum, g) => sum + g.runs, 0),
    seed: settings.seed,
    groups: groups.map(({ map, runs, maxCommands }) => ({ map, runs, maxCommands })),
    ...counters,
  };
}

function runGroup(
  factory: PmmFactory,
  profile: PmmProfile,
  settings: ResolvedPmmOptions,
  group: GroupPlan,
  counters: PmmRunCounters,
  deadline: number,
): void {
  const commands = fc.commands(pmmCommandArbitraries(profile), {
    maxCommands: group.maxCommands,
    // fast-check's default "small" size would keep sequences to a handful of commands.
    size: "max",
    ...(settings.replayPath === undefined ? {} : { replayPath: settings.replayPath }),
  });
  const runOne = (
    testMap: PmmTestMap,
    order: PmmFreeOrder,
    cmds: Iterable<fc.Command<PmmHarness, PmmHarness>>,
  ): void => {
    const env = PmmEnvironment.boot(factory, testMap, settings.zoneLimits);
    const harness = new PmmHarness(
      env,
      profile,
      settings.zoneLimits,
      counters,
      settings.checkEveryStep ?? env.totalFrames <= CHECK_EVERY_STEP_FRAMES,
    );
    harness.verifyAll(true);
    fc.modelRun(() => ({ model: harness, real: harness }), cmds);
    harness.step(() => harness.freeAll(order), true);
  };
  const params = {
    numRuns: group.runs,
    interruptAfterTimeLimit: Math.max(1, deadline - Date.now()),
    seed: settings.seed,
    ...(settings.path === undefined ? {} : { path: settings.path }),
  };
  const fixed = group.fixed;
  if (fixed === undefined) {
    throwIfFailed(
      fc.check(
        fc.property(
          fc
            .tuple(messyMapShapeArbitrary(), fc.constantFrom(...PMM_FREE_ORDERS))
            .map(([shape, order]) => new GeneratedSetup(shape, order)),
          commands,
          (setup, cmds) => runOne(setup.testMap, setup.finalOrder, cmds),
        ),
        params,
      ),
      profile,
      group,
      settings,
    );
  } else {
    throwIfFailed(
      fc.check(
        fc.property(fc.constantFrom(...PMM_FREE_ORDERS), commands, (order, cmds) =>
          runOne(fixed, order, cmds),
        ),
        params,
      ),
      profile,
      group,
      settings,
    );
  }
}

/** Turns a failed fast-check run into a violation carrying the report and the replay options. */
function throwIfFailed<Ts>(
  details: fc.RunDetails<Ts>,
  profile: PmmProfile,
  group: GroupPlan,
  settings: ResolvedPmmOptions,
): void {
  if (!details.failed) {
    if (!details.interrupted) return;
    throw new ConformanceViolation(
      "time",
      `the model run of PMM "${profile.name}" ran out of time on map ${JSON.stringify(group.map)} after ${details.numRuns} of ${group.runs} sequences (time budget ${Math.floor(settings.timeoutMs * TIME_BUDGET_SHARE)} ms of timeoutMs ${settings.timeoutMs}); raise timeoutMs or lower numRuns`,
    );
  }
  const report = fc.defaultReportMessage(details) ?? "";
  const replayPath = /replayPath="([^"]+)"/.exec(report)?.[1];
  const replay = [
    `seed: ${details.seed}`,
    `path: ${JSON.stringify(details.counterexamplePath)}`,
    ...(replayPath === undefined ? [] : [`replayPath: ${JSON.stringify(replayPath)}`]),
    `maps: [${JSON.stringify(group.map)}]`,
  ].join(", ");
  const error = details.errorInstance;
  const violation = isConformanceViolation(error) ? error : undefined;
  const found =
    violation !== undefined ? violation.message : `the run threw ${describeThrown(error)}`;
  throw new ConformanceViolation(
    violation?.check ?? "unexpected-error",
    `model run of PMM "${profile.name}" on map ${JSON.stringify(group.map)} failed\n${report.trim()}\n${found}\nreplay with the options { ${replay} }${details.interrupted ? "\n(shrinking stopped at the time limit: the sequence may not be minimal)" : ""}`,
    { cause: error },
  );
}
