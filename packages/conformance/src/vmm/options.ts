import { requireOptionInteger, resolveRunsAndSeed } from "../fuzz-options.js";

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

const requireInteger = (what: string, value: number, min: number): number =>
  requireOptionInteger("VMM", what, value, min);

/** Applies defaults, `ALLOCKIT_FUZZ_RUNS` and `ALLOCKIT_FUZZ_SEED`; RangeError on nonsense. */
export function resolveVmmOptions(options: VmmConformanceOptions = {}): ResolvedVmmOptions {
  const { numRuns, seed } = resolveRunsAndSeed("VMM", options, DEFAULT_VMM_NUM_RUNS);
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
