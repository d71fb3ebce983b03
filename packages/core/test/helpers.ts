import { expect } from "vitest";
import { isAllocatorError, type MemoryMapEntry, type MemoryType } from "@allockit/core";

/**
 * Property runs: `defaultRuns`, or ALLOCKIT_FUZZ_RUNS when that is larger (the variable raises
 * run counts, as in the conformance suites; it never lowers them).
 */
export function fuzzRuns(defaultRuns = 200): number {
  const fromEnv = Number(process.env.ALLOCKIT_FUZZ_RUNS);
  return Number.isSafeInteger(fromEnv) && fromEnv > defaultRuns ? fromEnv : defaultRuns;
}

/** Asserts that `run` throws an AllocatorError with `code` whose message contains `mentions`. */
export function expectAllocatorError(run: () => unknown, code: string, mentions: string): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(isAllocatorError(caught), `expected an AllocatorError, got ${String(caught)}`).toBe(true);
  const error = caught as { code: string; message: string };
  expect(error.code).toBe(code);
  expect(error.message).toContain(mentions);
}

/** A map entry from its base and end (exclusive). */
export function entry(base: number, end: number, type: MemoryType, raw?: number): MemoryMapEntry {
  return raw === undefined
    ? { base, length: end - base, type }
    : { base, length: end - base, type, raw };
}
