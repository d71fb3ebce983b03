import fc from "fast-check";
import { ConformanceViolation, describeThrown, isConformanceViolation } from "../violation.js";
import { vmmCommandArbitraries } from "./commands.js";
import { VmmHarness, newVmmCounters } from "./harness.js";
import type { VmmRunCounters } from "./harness.js";
import { resolveVmmOptions } from "./options.js";
import type { ResolvedVmmOptions, VmmConformanceOptions } from "./options.js";
import { bootVmmSystem } from "./system.js";
import type { VmmFactory } from "./system.js";
import { verifyAll } from "./verify.js";

/** Share of timeoutMs the model run may take before it stops and reports. */
const TIME_BUDGET_SHARE = 0.85;

/** What a passing model run did. */
export interface VmmModelReport extends VmmRunCounters {
  readonly vmm: string;
  readonly mode: string;
  readonly access: string;
  readonly numRuns: number;
  readonly maxCommands: number;
  /** Seed that replays the runs (pass it as `seed`, or set ALLOCKIT_FUZZ_SEED). */
  readonly seed: number;
}

/** Name, paging mode and access strategy of the VMM a factory builds, for reports. */
export interface VmmIdentity {
  readonly name: string;
  readonly mode: string;
  readonly access: string;
}

export function identifyVmm(factory: VmmFactory): VmmIdentity {
  const { vmm } = bootVmmSystem(factory);
  return { name: vmm.name, mode: vmm.mode, access: vmm.access };
}

/**
 * Runs one sequence on a freshly booted system: every invariant after boot, the commands
 * (each followed by every invariant), then the end of sequence (everything unmapped and
 * destroyed, the free frames of boot back).
 */
export function runVmmSequence(
  factory: VmmFactory,
  commands: Iterable<fc.Command<VmmHarness, VmmHarness>>,
  counters: VmmRunCounters = newVmmCounters(),
  checkEveryStep = true,
): VmmHarness {
  const harness = new VmmHarness(bootVmmSystem(factory), counters, checkEveryStep);
  verifyAll(harness, true);
  fc.modelRun(() => ({ model: harness, real: harness }), commands);
  harness.finish();
  return harness;
}

/**
 * The model-based check: random sequences of createSpace, destroy, activate, map (every kind,
 * searched, top-down, aligned and at fixed addresses), unmap (whole regions, parts, spans
 * over regions and gaps), protect, commit, decommit, reads and writes on both CPUs at CPL 0
 * and 3 (into regions, guards, gaps, unmapped pages, the kernel half and other spaces),
 * touch-everything, read-back and TLB probes around unmap / protect / decommit, and calls that
 * must be refused. Throws a ConformanceViolation with fast-check's report (seed, path, shrunk
 * sequence), the violation and how to replay it.
 */
export function runVmmModel(
  factory: VmmFactory,
  options: VmmConformanceOptions = {},
): VmmModelReport {
  const settings = resolveVmmOptions(options);
  const identity = identifyVmm(factory);
  const counters = newVmmCounters();
  // Stop (and say why) before vitest's timeout would kill the run without a report.
  const deadline = Date.now() + Math.floor(settings.timeoutMs * TIME_BUDGET_SHARE);
  const property = fc.property(
    fc.commands(vmmCommandArbitraries(), {
      maxCommands: settings.maxCommands,
      // fast-check's default "small" size would keep sequences to a handful of commands.
      size: "max",
      ...(settings.replayPath === undefined ? {} : { replayPath: settings.replayPath }),
    }),
    (commands) => {
      runVmmSequence(factory, commands, counters, settings.checkEveryStep);
    },
  );
  const details = fc.check(property, {
    numRuns: settings.numRuns,
    seed: settings.seed,
    interruptAfterTimeLimit: Math.max(1, deadline - Date.now()),
    ...(settings.path === undefined ? {} : { path: settings.path }),
  });
  throwIfFailed(details, identity, settings);
  return {
    vmm: identity.name,
    mode: identity.mode,
    access: identity.access,
    numRuns: settings.numRuns,
    maxCommands: settings.maxCommands,
    seed: settings.seed,
    ...counters,
  };
}

/** Turns a failed fast-check run into a violation carrying the report and the replay options. */
function throwIfFailed<Ts>(
  details: fc.RunDetails<Ts>,
  identity: VmmIdentity,
  settings: ResolvedVmmOptions,
): void {
  const which = `VMM "${identity.name}" (${identity.mode}, ${identity.access})`;
  if (!details.failed) {
    if (!details.interrupted) return;
    throw new ConformanceViolation(
      "time",
      `the model run of ${which} ran out of time after ${details.numRuns} of ${settings.numRuns} sequences (time budget ${Math.floor(settings.timeoutMs * TIME_BUDGET_SHARE)} ms of timeoutMs ${settings.timeoutMs}); raise timeoutMs or lower numRuns`,
    );
  }
  const report = fc.defaultReportMessage(details) ?? "";
  const replayPath = /replayPath="([^"]+)"/.exec(report)?.[1];
  const replay = [
    `seed: ${details.seed}`,
    `path: ${JSON.stringify(details.counterexamplePath)}`,
    ...(replayPath === undefined ? [] : [`replayPath: ${JSON.stringify(replayPath)}`]),
  ].join(", ");
  const error = details.errorInstance;
  const violation = isConformanceViolation(error) ? error : undefined;
  const found =
    violation !== undefined ? violation.message : `the run threw ${describeThrown(error)}`;
  throw new ConformanceViolation(
    violation?.check ?? "unexpected-error",
    `model run of ${which} failed\n${report.trim()}\n${found}\nreplay with the options { ${replay} }${details.interrupted ? "\n(shrinking stopped at the time limit: the sequence may not be minimal)" : ""}`,
    { cause: error },
  );
}
