import { InvalidArgumentError, type Command } from "commander";

/**
 * A commander argument parser for whole numbers in [min, max]. Commander reports a rejected
 * value itself ("option '--ops <n>' argument 'x' is invalid") and exits with code 1.
 */
export function integerOption(
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): (text: string) => number {
  return (text: string) => {
    const clean = text.trim().replace(/_/g, "");
    const value = /^[0-9]+$/.test(clean) ? Number(clean) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return value;
  };
}

/** Defaults of the workload options `allockit run` and `allockit report` share. */
export const WORKLOAD_DEFAULTS = { ops: 300_000, seed: 1, maxLive: 4000 } as const;

/** Adds the workload options (--ops, --seed, --max-live) to a command that runs one. */
export function addWorkloadOptions(command: Command): Command {
  return command
    .option("--ops <n>", "operations to perform", integerOption(1), WORKLOAD_DEFAULTS.ops)
    .option(
      "--seed <n>",
      "seed of the workload's random generator",
      integerOption(0, 0xffffffff),
      WORKLOAD_DEFAULTS.seed,
    )
    .option(
      "--max-live <blocks>",
      "most blocks live at once",
      integerOption(1, 1_000_000),
      WORKLOAD_DEFAULTS.maxLive,
    );
}
