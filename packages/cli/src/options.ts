import { InvalidArgumentError } from "commander";

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
