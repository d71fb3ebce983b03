import { describe, expect, it } from "vitest";
import { GOAL_IDS, judgeGoals, type BenchResults, type TraceRow } from "@allockit/bench";

type Figures = Omit<BenchResults, "goals">;

function heap(heap: string, memory: string, opsPerSec: number, fragmentation: number): TraceRow {
  const seconds = 600_000 / opsPerSec;
  return {
    trace: "python-ast",
    heap,
    memory,
    ops: 600_000,
    seconds,
    opsPerSec,
    peakLiveBytes: 1_000_000,
    peakFootprintBytes: Math.round(fragmentation * 1_000_000),
    fragmentation,
    failures: 0,
    runs: 3,
  };
}

/** Figures where every goal holds, with a margin. */
function passing(): Figures {
  const boot = (ramGiB: number, pmm: string, seconds: number) => ({
    machine: "q35" as const,
    ramGiB,
    mode: "long" as const,
    pmm,
    access: "direct-map" as const,
    seconds,
    coldSeconds: seconds * 5,
    pmmSeconds: seconds / 2,
    pageTablesSeconds: seconds / 4,
    frames: 300,
    runs: 25,
  });
  const pmms = ["pmm-stack", "pmm-bitmap", "pmm-buddy"];
  return {
    machine: {
      node: "v20",
      cpu: "test",
      cores: 2,
      platform: "linux",
      arch: "x64",
      memoryBytes: 2 ** 34,
      date: "2026-11-21T00:00:00.000Z",
      quick: false,
    },
    pmm: pmms.flatMap((plugin) =>
      [0, 0.5, 0.9].map((occupancy) => ({ plugin, occupancy, opsPerSec: 100e6 })),
    ),
    pmmLimit: { opsPerSec: 150e6 },
    pmmRuns: [],
    pmmInit: [],
    mmu: {
      tlbHitRead32OpsPerSec: 1,
      dataViewRead32OpsPerSec: 1,
      tlbHitWrite32OpsPerSec: 1,
      dataViewWrite32OpsPerSec: 1,
      walks: [],
    },
    sparseMachine: {
      ramGiB: 64,
      hostRssBytes: 1,
      baselineRssBytes: 1,
      touchedPages: 5,
      lastPage: "0x0",
    },
    vmm: [],
    vmmScaling: {
      sizes: [1000, 100_000],
      goalRatio: 1.5,
      scaling: [
        {
          mode: "long",
          access: "direct-map",
          pattern: "spread",
          smallOpsPerSec: 300e3,
          largeOpsPerSec: 250e3,
          ratio: 1.2,
          met: true,
        },
      ],
      goalMet: true,
      goals: [],
    },
    boot: pmms.flatMap((pmm) => [boot(1, pmm, 0.002), boot(64, pmm, 0.006)]),
    heaps: [
      heap("list-heap", "flat", 3e6, 1.25),
      heap("heap-slab", "flat", 12e6, 1.1),
      heap("heap-bucket", "flat", 9e6, 2),
      heap("list-heap", "machine", 2e6, 1.25),
      heap("heap-slab", "machine", 7e6, 1.1),
      heap("heap-bucket", "machine", 5e6, 2),
      heap("thi.ng", "flat", 80e3, 1.2),
      heap("bump-arena", "flat", 16e6, 3.7),
      heap("native-malloc", "native", 30e6, 1.175),
    ],
  };
}

const verdicts = (figures: Figures) =>
  Object.fromEntries(judgeGoals(figures).map((g) => [g.id, g.met]));

describe("judgeGoals", () => {
  it("judges every goal, in a fixed order", () => {
    const goals = judgeGoals(passing());
    expect(goals.map((g) => g.id)).toEqual([...GOAL_IDS]);
    expect(goals.filter((g) => g.met !== true)).toEqual([]);
  });

  it("misses exactly the goal whose figure crosses its line", () => {
    const cases: Array<[string, (f: Figures) => void]> = [
      ["pmm-stack-vs-array", (f) => (f.pmmLimit.opsPerSec = 201e6)],
      [
        "pmm-90-vs-stack",
        (f) =>
          (f.pmm.find((r) => r.plugin === "pmm-buddy" && r.occupancy === 0.9)!.opsPerSec = 49e6),
      ],
      [
        "slab-fragmentation",
        (f) => {
          f.heaps[1]!.fragmentation = 1.36;
          f.heaps[8]!.fragmentation = 1.4; // native worse still: only the 1.35 line is crossed
        },
      ],
      ["bucket-vs-thing", (f) => (f.heaps[6]!.opsPerSec = 91e3)],
      [
        "boot-64g-vs-1g",
        (f) => (f.boot.find((b) => b.pmm === "pmm-buddy" && b.ramGiB === 64)!.seconds = 0.0081),
      ],
      [
        "boot-64g",
        (f) => (f.boot.find((b) => b.pmm === "pmm-stack" && b.ramGiB === 64)!.coldSeconds = 1.2),
      ],
      ["vmm-100k-vs-1k", (f) => (f.vmmScaling.scaling[0]!.met = false)],
    ];
    for (const [id, change] of cases) {
      const figures = passing();
      change(figures);
      const judged = verdicts(figures);
      expect(judged[id], id).toBe(false);
      expect(
        Object.entries(judged)
          .filter(([, met]) => met !== true)
          .map(([key]) => key),
      ).toEqual([id]);
    }
  });

  it("compares heap-slab with the bump arena and native malloc, and machine with flat time", () => {
    const figures = passing();
    figures.heaps[1]!.opsPerSec = 9e6; // 0.3x native, 0.56x the bump arena
    figures.heaps[1]!.seconds = 600_000 / 9e6;
    expect(verdicts(figures)["slab-vs-native"]).toBe(false);
    expect(verdicts(figures)["slab-vs-bump"]).toBe(true);
    figures.heaps[4]!.seconds = figures.heaps[1]!.seconds * 2.01; // heap-slab machine vs flat
    expect(verdicts(figures)["machine-vs-flat"]).toBe(false);
    const machine = judgeGoals(figures).find((g) => g.id === "machine-vs-flat")!;
    expect(machine.measured.startsWith("heap-slab 2.01x")).toBe(true); // worst first
  });

  it("says 'not measured' for the native goals when there is no native row", () => {
    const figures = passing();
    figures.heaps = figures.heaps.filter((r) => r.heap !== "native-malloc");
    const goals = judgeGoals(figures);
    for (const id of ["slab-vs-native", "slab-fragmentation-vs-native"]) {
      const goal = goals.find((g) => g.id === id)!;
      expect(goal.met).toBeNull();
      expect(goal.measured).toContain("not measured");
    }
  });

  it("judges fragmentation against native malloc's on most traces", () => {
    const figures = passing();
    figures.heaps[1]!.fragmentation = 1.2; // above native's 1.175 on the only trace
    expect(verdicts(figures)["slab-fragmentation-vs-native"]).toBe(false);
    expect(verdicts(figures)["slab-fragmentation"]).toBe(true);
  });
});

describe("pnpm bench's arguments (scripts/bench.mjs)", () => {
  it("a full run writes docs/benchmarks.json and .md; --quick, --from or chosen outputs do not", async () => {
    // @ts-expect-error: a plain .mjs script, no types
    const { benchArguments } = (await import("../../../scripts/bench.mjs")) as {
      benchArguments: (args: string[]) => string[];
    };
    expect(benchArguments([])).toEqual([
      "bench",
      "--json",
      "docs/benchmarks.json",
      "--markdown",
      "docs/benchmarks.md",
    ]);
    expect(benchArguments(["--traces", "t"])).toEqual([
      "bench",
      "--traces",
      "t",
      "--json",
      "docs/benchmarks.json",
      "--markdown",
      "docs/benchmarks.md",
    ]);
    for (const args of [
      ["--quick"],
      ["--from", "x.json"],
      ["--json=out.json"],
      ["--markdown", "m.md"],
    ])
      expect(benchArguments(args)).toEqual(["bench", ...args]);
  });
});
