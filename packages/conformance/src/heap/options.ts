import {
  FUZZ_RUNS_ENV,
  FUZZ_SEED_ENV,
  requireOptionInteger,
  resolveRunsAndSeed,
} from "../fuzz-options.js";
import { isPowerOfTwo } from "@allockit/core";

/** Tuning of the heap conformance suite. Every field has a CI-friendly default. */
export interface HeapConformanceOptions {
  /**
   * Random operation sequences per heap (default 1000). The environment variable
   * `ALLOCKIT_FUZZ_RUNS` sets it too; when both are given the larger count wins, so a nightly
   * job can raise the count of every suite without editing test files.
   */
  numRuns?: number;
  /** Longest random sequence, in commands (default 60). */
  maxCommands?: number;
  /**
   * Seed of the random sequences (default: `ALLOCKIT_FUZZ_SEED`, else a fresh one). A failure
   * report prints the seed and path that replay it.
   */
  seed?: number;
  /** Replay path from a failure report (with `seed`): reruns just the failing case. */
  path?: string;
  /**
   * The `replayPath="..."` a failure report prints after the counterexample (with `seed` and
   * `path`): lets fast-check rebuild the exact shrunk command sequence.
   */
  replayPath?: string;
  /** Largest block size tried, in bytes (default 4 pages). */
  maxBlockSize?: number;
  /** Largest alignment tried (default 4096, and never above the heap's `maxAlign`). */
  maxAlign?: number;
  /** Page limit of the out-of-memory checks (default 16 pages). */
  outOfMemoryPageLimit?: number;
  /**
   * Most page requests the failure-injection check makes fail, one heap each, per mode
   * (default 256). A script that makes more requests is sampled at evenly spread requests.
   */
  maxFailurePoints?: number;
  /** Timeout of each vitest test in milliseconds (default: vitest's configured timeout). */
  timeoutMs?: number;
}

/** Options with defaults and the environment applied. */
export interface ResolvedHeapOptions {
  readonly numRuns: number;
  readonly maxCommands: number;
  readonly seed: number;
  readonly path: string | undefined;
  readonly replayPath: string | undefined;
  readonly maxBlockSize: number;
  readonly maxAlign: number;
  readonly outOfMemoryPageLimit: number;
  readonly maxFailurePoints: number;
  readonly timeoutMs: number | undefined;
}

export const DEFAULT_NUM_RUNS = 1000;
export const DEFAULT_MAX_COMMANDS = 60;
export const DEFAULT_MAX_ALIGN = 4096;
export const DEFAULT_OUT_OF_MEMORY_PAGE_LIMIT = 16;
export const DEFAULT_MAX_FAILURE_POINTS = 256;
export { FUZZ_RUNS_ENV, FUZZ_SEED_ENV };

const requireInteger = (what: string, value: number, min: number): number =>
  requireOptionInteger("heap", what, value, min);

/** Applies defaults, `ALLOCKIT_FUZZ_RUNS` and `ALLOCKIT_FUZZ_SEED`; throws RangeError on nonsense. */
export function resolveHeapOptions(
  options: HeapConformanceOptions = {},
  pageSize = 4096,
): ResolvedHeapOptions {
  const { numRuns, seed } = resolveRunsAndSeed("heap", options, DEFAULT_NUM_RUNS);
  const maxAlign = options.maxAlign ?? DEFAULT_MAX_ALIGN;
  if (!isPowerOfTwo(maxAlign))
    throw new RangeError(
      `heap conformance option maxAlign = ${String(maxAlign)} is not a power of two`,
    );
  return {
    numRuns,
    maxCommands: requireInteger("maxCommands", options.maxCommands ?? DEFAULT_MAX_COMMANDS, 1),
    seed,
    path: options.path,
    replayPath: options.replayPath,
    maxBlockSize: requireInteger("maxBlockSize", options.maxBlockSize ?? 4 * pageSize, 1),
    maxAlign,
    outOfMemoryPageLimit: requireInteger(
      "outOfMemoryPageLimit",
      options.outOfMemoryPageLimit ?? DEFAULT_OUT_OF_MEMORY_PAGE_LIMIT,
      1,
    ),
    maxFailurePoints: requireInteger(
      "maxFailurePoints",
      options.maxFailurePoints ?? DEFAULT_MAX_FAILURE_POINTS,
      2,
    ),
    timeoutMs:
      options.timeoutMs === undefined
        ? undefined
        : requireInteger("timeoutMs", options.timeoutMs, 1),
  };
}
