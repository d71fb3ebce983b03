import { FUZZ_RUNS_ENV, FUZZ_SEED_ENV } from "../heap/options.js";

/** Tuning of the VMM conformance suite. Every field has a CI-friendly default. */
export interface VmmConformanceOptions {
  /**
   * Random operation sequences for this factory (default 1000), each on a freshly booted
   * system. `ALLOCKIT_FUZZ_RUNS` sets it too; when both are given the larger count wins, so a
   * nightly job raises every suite without editing test files. A caller that runs the suite
   * over several factories (paging modes, access strategies) may split its runs among them.
   */
  numRuns?: number;
  /** Longest random sequence, in commands (default 40). */
  maxCommands?: number;
  /**
   * Seed of the random sequences (default: `ALLOCKIT_FUZZ_SEED`, else a fresh one). A failure
   * report prints the seed and path that replay it.
   */
  seed?: number;
  /** Replay path from a failure report (with `seed`): reruns just the failing case. */
  path?: string;
  /** The `replayPath="..."` a failure report prints after the counterexample (with `path`). */
  replayPath?: string;
  /**
   * Call `vmm.check()` after every command (default true). When false it runs after
   * commands that change the page tables' shape (map, unmap, protect, destroy) and at the end
   * of every sequence; every other invariant is still checked after every command.
   */
  checkEveryStep?: boolean;
  /**
   * Timeout of each vitest test in milliseconds. Default: 60 s plus 150 ms per sequence, since
   * the model run takes far more than vitest's own 5 s default.
   */
  timeoutMs?: number;
}

/** Options with defaults and the environment applied. */
export interface ResolvedVmmOptions {
  readonly numRuns: number;
  readonly maxCommands: number;
  readonly seed: number;
  readonly path: string | undefined;
  readonly replayPath: string | undefined;
  readonly checkEveryStep: boolean;
  readonly timeoutMs: number;
}

export const DEFAULT_VMM_NUM_RUNS = 1000;
export const DEFAULT_VMM_MAX_COMMANDS = 40;

function readEnv(name: string): string | undefined {
  // `process` is absent outside Node (a browser runner); the suite then just uses its options.
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env;
  const value = env?.[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

function requireInteger(what: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `VMM conformance option ${what} = ${String(value)} is not an integer >= ${min}`,
    );
  }
  return value;
}

function freshSeed(): number {
  return (Date.now() ^ Math.floor(Math.random() * 0x100000000)) | 0;
}

/** Applies defaults, `ALLOCKIT_FUZZ_RUNS` and `ALLOCKIT_FUZZ_SEED`; RangeError on nonsense. */
export function resolveVmmOptions(options: VmmConformanceOptions = {}): ResolvedVmmOptions {
  const runsText = readEnv(FUZZ_RUNS_ENV);
  let envRuns: number | undefined;
  if (runsText !== undefined) {
    envRuns = Number(runsText);
    if (!Number.isSafeInteger(envRuns) || envRuns < 1) {
      throw new RangeError(`${FUZZ_RUNS_ENV}=${JSON.stringify(runsText)} is not an integer >= 1`);
    }
  }
  let numRuns =
    options.numRuns === undefined
      ? (envRuns ?? DEFAULT_VMM_NUM_RUNS)
      : requireInteger("numRuns", options.numRuns, 1);
  if (envRuns !== undefined) numRuns = Math.max(numRuns, envRuns);

  const seedText = readEnv(FUZZ_SEED_ENV);
  let seed: number;
  if (options.seed !== undefined) {
    if (!Number.isSafeInteger(options.seed)) {
      throw new RangeError(
        `VMM conformance option seed = ${String(options.seed)} is not an integer`,
      );
    }
    seed = options.seed;
  } else if (seedText !== undefined) {
    seed = Number(seedText);
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`${FUZZ_SEED_ENV}=${JSON.stringify(seedText)} is not an integer`);
    }
  } else seed = freshSeed();
  if (options.path !== undefined && options.seed === undefined && seedText === undefined) {
    throw new RangeError(
      "VMM conformance option path replays a failure only together with its seed",
    );
  }
  return {
    numRuns,
    maxCommands: requireInteger("maxCommands", options.maxCommands ?? DEFAULT_VMM_MAX_COMMANDS, 1),
    seed,
    path: options.path,
    replayPath: options.replayPath,
    checkEveryStep: options.checkEveryStep ?? true,
    timeoutMs:
      options.timeoutMs === undefined
        ? 60_000 + 150 * numRuns
        : requireInteger("timeoutMs", options.timeoutMs, 1),
  };
}
