import { describe, expect, it } from "vitest";
import { pmmConformance, runPmmConformance, runPmmModel } from "../src/index.js";
import { ReferencePmm } from "./pmm-reference.js";

// The suite as a plugin author runs it, on PMMs known to be correct: every check must pass.
pmmConformance("reference PMM (contiguous, every constraint)", () => new ReferencePmm());
pmmConformance(
  "reference PMM (single frames, zones only)",
  () => new ReferencePmm({ contiguous: false, constraints: ["zone"] }),
);

describe("the PMM suite outside vitest's describe", () => {
  it("reports what it checked on a correct PMM", () => {
    const report = runPmmConformance(() => new ReferencePmm(), { numRuns: 60, seed: 1234 });
    expect(report.profile).toMatchObject({ name: "reference", contiguous: true });
    expect(report.init.maps.map((m) => m.map)).toEqual(
      expect.arrayContaining(["qemu-q35-64g", "real:cloud-vm-24g.sysfs-memmap", "messy-standard"]),
    );
    const big = report.init.maps.find((m) => m.map === "qemu-q35-64g")!;
    expect(big.totalFrames).toBeGreaterThan(16_000_000);
    expect(big.bootCappedBySuite).toBe(false);
    expect(report.model.seed).toBe(1234);
    expect(report.model.numRuns).toBeGreaterThanOrEqual(60);
    expect(report.model.allocations).toBeGreaterThan(100);
    expect(report.model.partialFrees).toBeGreaterThan(0);
    expect(report.model.reserves).toBeGreaterThan(0);
    expect(report.model.rejectedCalls).toBeGreaterThan(50);
    expect(report.model.outOfMemory).toBeGreaterThan(0);
    expect(report.badArguments.checked).toBeGreaterThan(20);
    expect(report.badFrees.checked).toBeGreaterThan(30);
    expect(report.exhaustion.checked).toBeGreaterThan(10_000);
    expect(report.pageSizes.checked).toBe(1);
  });

  it("gives every preset and real map its own sequences, fewer on the big ones", () => {
    const report = runPmmModel(() => new ReferencePmm(), {
      numRuns: 1000,
      seed: 5,
      maxCommands: 1,
    });
    const runs = Object.fromEntries(report.groups.map((g) => [g.map, g.runs]));
    expect(runs["generated"]).toBeGreaterThanOrEqual(500);
    expect(runs["qemu-q35-64g"]).toBe(10);
    expect(runs["qemu-i440fx-128m"]).toBe(40);
    expect(runs["real:chromebook-setzer-coreboot.dmesg"]).toBe(40);
    expect(report.groups.reduce((n, g) => n + g.runs, 0)).toBe(1000);
  });
});
