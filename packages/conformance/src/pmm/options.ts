import { DEFAULT_ZONE_LIMITS, PAGE_SIZE } from "@allockit/core";
import type { ZoneLimits } from "@allockit/core";
import { requireOptionInteger, resolveRunsAndSeed } from "../fuzz-options.js";

/** Tuning of the PMM conformance suite. Every field has a CI-friendly default. */
export interface PmmConformanceOptions {
  /**
   * Random operation sequences per PMM, over all memory maps together (default 1000). The
   * environment variable `ALLOCKIT_FUZZ_RUNS` sets it too; when both are given the larger
   * count wins, so a nightly job can raise every suite without editing test files.
   */
  numRuns?: number;
  /** Longest random sequence, in commands (default 50; half of it on maps above 4 GiB). */
  maxCommands?: number;
  /**
   * Seed of the random sequences and of the generated maps (default: `ALLOCKIT_FUZZ_SEED`,
   * else a fresh one). A failure report prints the seed and path that replay it.
   */
  seed?: number;
  /** Replay path from a failure report (with `seed` and `maps`): reruns just the failing case. */
  path?: string;
  /** The `replayPath="..."` a failure report prints after the counterexample (with `path`). */
  replayPath?: string;
  /**
   * Run the model-based sequences only on these maps: names of presets ("qemu-q35-64g"), real
   * maps ("real:cloud-vm-24g.dmesg"), or "generated". A failure report names the one to pass.
   */
  maps?: readonly string[];
  /**
   * Call `check()` after every step on every map. By default it runs after every step on maps
   * with at most 1 GiB of managed RAM, and elsewhere on check() commands, after rejected calls
   * and at the end of a sequence (a full metadata walk of 64 GiB per step would dominate).
   */
  checkEveryStep?: boolean;
  /** Zone limits the PMM was configured with (default DMA 16 MiB, DMA32 4 GiB). */
  zoneLimits?: ZoneLimits;
  /**
   * Timeout of each vitest test in milliseconds. Default: 60 s plus 100 ms per sequence (160 s
   * for 1000), since the model run takes seconds, far over vitest's own 5 s default.
   */
  timeoutMs?: number;
}

/** Options with defaults and the environment applied. */
export interface ResolvedPmmOptions {
  readonly numRuns: number;
  readonly maxCommands: number;
  readonly seed: number;
  readonly path: string | undefined;
  readonly replayPath: string | undefined;
  readonly maps: readonly string[] | undefined;
  readonly checkEveryStep: boolean | undefined;
  readonly zoneLimits: ZoneLimits;
  readonly timeoutMs: number;
}

export const DEFAULT_PMM_NUM_RUNS = 1000;
export const DEFAULT_PMM_MAX_COMMANDS = 50;
const requireInteger = (what: string, value: number, min: number): number =>
  requireOptionInteger("PMM", what, value, min);

/** Applies defaults, `ALLOCKIT_FUZZ_RUNS` and `ALLOCKIT_FUZZ_SEED`; RangeError on nonsense. */
export function resolvePmmOptions(options: PmmConformanceOptions = {}): ResolvedPmmOptions {
  const { numRuns, seed } = resolveRunsAndSeed("PMM", options, DEFAULT_PMM_NUM_RUNS);
  if (options.path !== undefined && options.maps === undefined) {
    // A path belongs to one map's sequences; the failure report prints which.
    throw new RangeError(
      "PMM conformance option path replays a failure only together with maps (the failing map)",
    );
  }

  const zoneLimits = options.zoneLimits ?? DEFAULT_ZONE_LIMITS;
  if (
    !Number.isSafeInteger(zoneLimits.DMA) ||
    !Number.isSafeInteger(zoneLimits.DMA32) ||
    zoneLimits.DMA <= 0 ||
    zoneLimits.DMA >= zoneLimits.DMA32 ||
    zoneLimits.DMA % PAGE_SIZE !== 0 ||
    zoneLimits.DMA32 % PAGE_SIZE !== 0
  ) {
    throw new RangeError(
      `PMM conformance option zoneLimits = ${JSON.stringify(zoneLimits)} must be page-aligned with 0 < DMA < DMA32`,
    );
  }
  if (options.maps !== undefined && (!Array.isArray(options.maps) || options.maps.length === 0)) {
    throw new RangeError("PMM conformance option maps must be a non-empty array of map names");
  }
  return {
    numRuns,
    maxCommands: requireInteger("maxCommands", options.maxCommands ?? DEFAULT_PMM_MAX_COMMANDS, 1),
    seed,
    path: options.path,
    replayPath: options.replayPath,
    maps: options.maps,
    checkEveryStep: options.checkEveryStep,
    zoneLimits: { DMA: zoneLimits.DMA, DMA32: zoneLimits.DMA32 },
    timeoutMs:
      options.timeoutMs === undefined
        ? 60_000 + 100 * numRuns
        : requireInteger("timeoutMs", options.timeoutMs, 1),
  };
}
