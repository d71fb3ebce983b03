import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { isAllocatorError } from "@allockit/core";

/** Real firmware maps (copied from boot logs and a live machine), kept as test fixtures. */
export const MEMMAPS_DIR = new URL("../fixtures/memmaps/", import.meta.url);

/** The text of one of the real firmware maps in test/fixtures/memmaps. */
export function readMemmap(name: string): string {
  return readFileSync(new URL(name, MEMMAPS_DIR), "utf8");
}

/**
 * Property runs: `defaultRuns`, or ALLOCKIT_FUZZ_RUNS when that is larger (the variable only
 * raises run counts).
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
