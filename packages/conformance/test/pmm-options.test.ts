import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { GiB, normalizeMemoryMap } from "@allockit/core";
import { MEMORY_MAP_PRESETS } from "@allockit/x86-machine";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DEFAULT_PMM_MAX_COMMANDS,
  DEFAULT_PMM_NUM_RUNS,
  FUZZ_RUNS_ENV,
  FUZZ_SEED_ENV,
  REAL_MEMORY_MAPS,
  STANDARD_MESSY_SHAPE,
  bootLayout,
  buildMessyMap,
  messyMapShapeArbitrary,
  planModelGroups,
  realTestMaps,
  resolvePmmOptions,
} from "../src/index.js";

describe("PMM conformance options", () => {
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

  it("defaults to 1000 sequences of up to 50 commands with the default zone limits", () => {
    const resolved = resolvePmmOptions();
    expect(resolved).toMatchObject({
      numRuns: DEFAULT_PMM_NUM_RUNS,
      maxCommands: DEFAULT_PMM_MAX_COMMANDS,
      zoneLimits: { DMA: 16 * 1024 * 1024, DMA32: 4 * GiB },
    });
    expect(DEFAULT_PMM_NUM_RUNS).toBeGreaterThanOrEqual(1000);
    expect(resolved.timeoutMs).toBe(160_000);
    expect(resolvePmmOptions({ timeoutMs: 5000 }).timeoutMs).toBe(5000);
    expect(Number.isSafeInteger(resolved.seed)).toBe(true);
  });

  it("lets ALLOCKIT_FUZZ_RUNS raise the run count, never lower an explicit one", () => {
    process.env[FUZZ_RUNS_ENV] = "20000";
    expect(resolvePmmOptions().numRuns).toBe(20000);
    expect(resolvePmmOptions({ numRuns: 300 }).numRuns).toBe(20000);
    process.env[FUZZ_RUNS_ENV] = "100";
    expect(resolvePmmOptions({ numRuns: 300 }).numRuns).toBe(300);
    process.env[FUZZ_RUNS_ENV] = "many";
    expect(() => resolvePmmOptions()).toThrow(/ALLOCKIT_FUZZ_RUNS="many" is not an integer >= 1/);
  });

  it("takes the seed from the options, else ALLOCKIT_FUZZ_SEED", () => {
    process.env[FUZZ_SEED_ENV] = "-77";
    expect(resolvePmmOptions().seed).toBe(-77);
    expect(resolvePmmOptions({ seed: 5 }).seed).toBe(5);
  });

  it("replays a path only together with its seed and map", () => {
    expect(() => resolvePmmOptions({ path: "0:1", maps: ["generated"] })).toThrow(/its seed/);
    expect(() => resolvePmmOptions({ path: "0:1", seed: 3 })).toThrow(/together with maps/);
    expect(resolvePmmOptions({ path: "0:1", seed: 3, maps: ["generated"] }).path).toBe("0:1");
  });

  it("rejects nonsense options", () => {
    expect(() => resolvePmmOptions({ numRuns: 0 })).toThrow(RangeError);
    expect(() => resolvePmmOptions({ maxCommands: 1.5 })).toThrow(RangeError);
    expect(() => resolvePmmOptions({ zoneLimits: { DMA: 5000, DMA32: 4 * GiB } })).toThrow(
      /zoneLimits/,
    );
    expect(() => resolvePmmOptions({ maps: [] })).toThrow(/maps/);
    expect(() => planModelGroups(resolvePmmOptions({ maps: ["qemu-nonsense"] }))).toThrow(
      /known maps: generated, qemu-i440fx-128m/,
    );
  });

  it("spreads the sequences over every map, fewer and shorter on maps above 4 GiB", () => {
    const groups = planModelGroups(resolvePmmOptions({ numRuns: 1000, seed: 1 }));
    const names = groups.map((g) => g.map);
    expect(names).toEqual(
      expect.arrayContaining([
        "generated",
        ...Object.keys(MEMORY_MAP_PRESETS),
        ...REAL_MEMORY_MAPS.map((m) => `real:${m.name}`),
      ]),
    );
    const biggest = groups.find((g) => g.map === "qemu-q35-64g")!;
    expect(biggest.runs).toBeLessThan(groups.find((g) => g.map === "qemu-q35-4g")!.runs);
    expect(biggest.maxCommands).toBeLessThan(DEFAULT_PMM_MAX_COMMANDS);
    expect(groups.reduce((n, g) => n + g.runs, 0)).toBeGreaterThanOrEqual(1000);
  });
});

describe("the maps the PMM suite ships", () => {
  it("carries the real maps exactly as x86-machine's fixtures hold them", () => {
    for (const real of REAL_MEMORY_MAPS) {
      const fixture = fileURLToPath(
        new URL(`../../x86-machine/test/fixtures/memmaps/${real.name}.txt`, import.meta.url),
      );
      expect(real.text).toBe(readFileSync(fixture, "utf8"));
    }
    expect(realTestMaps().every((m) => m.map.length >= 5)).toBe(true);
  });

  it("places the kernel at 1 MiB and an unaligned module after it where RAM allows", () => {
    const layout = bootLayout(normalizeMemoryMap(MEMORY_MAP_PRESETS["qemu-q35-64g"]!).map);
    expect(layout.kernel).toEqual({ base: 0x100000, length: 0x200000, name: "kernel" });
    expect(layout.module!.base).toBeGreaterThan(0x300000);
    expect(layout.module!.base % 4096).not.toBe(0);
    // No usable RAM at 1 MiB: the kernel goes to the start of the first entry big enough.
    const moved = bootLayout([
      { base: 0x1000, length: 0x9e000, type: "usable" },
      { base: 0x4000000, length: 0x4000000, type: "usable" },
    ]);
    expect(moved.kernel!.base).toBe(0x4000000);
  });

  it("generates messy maps: unsorted, overlapping, unaligned, with holes and RAM above 4 GiB", () => {
    const map = buildMessyMap(STANDARD_MESSY_SHAPE);
    const sorted = map.every((e, i) => i === 0 || map[i - 1]!.base <= e.base);
    expect(sorted).toBe(false);
    expect(map.some((e) => e.length === 0)).toBe(true);
    expect(map.some((e) => e.base % 4096 !== 0 && e.type !== "usable")).toBe(true);
    expect(map.some((e) => e.base >= 4 * GiB && e.type === "usable")).toBe(true);
    expect(normalizeMemoryMap(map).changes.some((c) => /overlaps/.test(c))).toBe(true);
    // Every generated shape builds a map that normalises.
    fc.assert(
      fc.property(messyMapShapeArbitrary(), (shape) => {
        normalizeMemoryMap(buildMessyMap(shape));
      }),
      { numRuns: 200, seed: 9 },
    );
  });
});
