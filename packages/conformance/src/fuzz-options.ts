/** The environment every suite reads, so one nightly setting raises them all. */
export const FUZZ_RUNS_ENV = "ALLOCKIT_FUZZ_RUNS";
export const FUZZ_SEED_ENV = "ALLOCKIT_FUZZ_SEED";

function readEnv(name: string): string | undefined {
  // `process` is absent outside Node (a browser runner); the suite then just uses its options.
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env;
  const value = env?.[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

/** `value` if it is a safe integer >= `min`; else a RangeError naming the suite's option. */
export function requireOptionInteger(
  suite: string,
  what: string,
  value: number,
  min: number,
): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `${suite} conformance option ${what} = ${String(value)} is not an integer >= ${min}`,
    );
  }
  return value;
}

function freshSeed(): number {
  return (Date.now() ^ Math.floor(Math.random() * 0x100000000)) | 0;
}

/**
 * The run count and seed of a suite: `numRuns` (default `defaultRuns`) raised to
 * `ALLOCKIT_FUZZ_RUNS` when that is larger; `seed`, else `ALLOCKIT_FUZZ_SEED`, else a fresh one.
 * A replay `path` needs a seed. RangeError on nonsense, naming the suite.
 */
export function resolveRunsAndSeed(
  suite: string,
  options: { numRuns?: number; seed?: number; path?: string },
  defaultRuns: number,
): { numRuns: number; seed: number } {
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
      ? (envRuns ?? defaultRuns)
      : requireOptionInteger(suite, "numRuns", options.numRuns, 1);
  if (envRuns !== undefined) numRuns = Math.max(numRuns, envRuns);

  const seedText = readEnv(FUZZ_SEED_ENV);
  let seed: number;
  if (options.seed !== undefined) {
    if (!Number.isSafeInteger(options.seed)) {
      throw new RangeError(
        `${suite} conformance option seed = ${String(options.seed)} is not an integer`,
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
      `${suite} conformance option path replays a failure only together with its seed`,
    );
  }
  return { numRuns, seed };
}
