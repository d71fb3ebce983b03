import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DEFAULT_NUM_RUNS,
  FUZZ_RUNS_ENV,
  FUZZ_SEED_ENV,
  resolveHeapOptions,
} from "../src/index.js";

describe("heap conformance options", () => {
  const saved: Record<string, string | undefined> = {};

  beforeEach(() => {
    for (const name of [FUZZ_RUNS_ENV, FUZZ_SEED_ENV]) {
      saved[name] = process.env[name];
      delete process.env[name];
    }
  });

  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("defaults to 1000 runs of up to 60 commands, blocks up to 4 pages, alignments up to 4096", () => {
    const resolved = resolveHeapOptions();
    expect(resolved).toMatchObject({
      numRuns: DEFAULT_NUM_RUNS,
      maxCommands: 60,
      maxBlockSize: 4 * 4096,
      maxAlign: 4096,
      outOfMemoryPageLimit: 16,
    });
    expect(DEFAULT_NUM_RUNS).toBeGreaterThanOrEqual(1000);
    expect(Number.isSafeInteger(resolved.seed)).toBe(true);
  });

  it("lets ALLOCKIT_FUZZ_RUNS raise the run count, never lower an explicit one", () => {
    process.env[FUZZ_RUNS_ENV] = "25000";
    expect(resolveHeapOptions().numRuns).toBe(25000);
    expect(resolveHeapOptions({ numRuns: 300 }).numRuns).toBe(25000);
    process.env[FUZZ_RUNS_ENV] = "100";
    expect(resolveHeapOptions().numRuns).toBe(100);
    expect(resolveHeapOptions({ numRuns: 300 }).numRuns).toBe(300);
  });

  it("rejects a malformed ALLOCKIT_FUZZ_RUNS loudly", () => {
    process.env[FUZZ_RUNS_ENV] = "lots";
    expect(() => resolveHeapOptions()).toThrow(/ALLOCKIT_FUZZ_RUNS="lots" is not an integer >= 1/);
  });

  it("takes the seed from the options, else ALLOCKIT_FUZZ_SEED", () => {
    process.env[FUZZ_SEED_ENV] = "-77";
    expect(resolveHeapOptions().seed).toBe(-77);
    expect(resolveHeapOptions({ seed: 5 }).seed).toBe(5);
  });

  it("replays a path only together with a seed", () => {
    expect(() => resolveHeapOptions({ path: "0:1" })).toThrow(/together with its seed/);
    expect(resolveHeapOptions({ path: "0:1", seed: 3 }).path).toBe("0:1");
  });

  it("rejects nonsense options", () => {
    expect(() => resolveHeapOptions({ numRuns: 0 })).toThrow(RangeError);
    expect(() => resolveHeapOptions({ maxAlign: 3000 })).toThrow(/not a power of two/);
    expect(() => resolveHeapOptions({ maxCommands: 1.5 })).toThrow(RangeError);
  });
});
