import type { BenchResults } from "./run.js";
import type { TraceRow } from "./tables/trace.js";

/** One performance goal, judged on a run's figures. */
export interface GoalResult {
  /** Stable key (the JSON's and docs/benchmarks.md's anchor). */
  id: GoalId;
  /** The goal as stated. */
  goal: string;
  /** Met, missed, or null when the run could not measure it (e.g. no C compiler). */
  met: boolean | null;
  /** The figures it was judged on, worst first where there are several. */
  measured: string;
}

export const GOAL_IDS = [
  "pmm-stack-vs-array",
  "pmm-90-vs-stack",
  "slab-vs-bump",
  "slab-vs-native",
  "slab-fragmentation",
  "slab-fragmentation-vs-native",
  "bucket-vs-thing",
  "machine-vs-flat",
  "boot-64g",
  "boot-64g-vs-1g",
  "vmm-100k-vs-1k",
] as const;
export type GoalId = (typeof GOAL_IDS)[number];

const x = (value: number) => `${value.toFixed(2)}x`;
const count = (value: number | undefined) => (value ?? NaN).toLocaleString("en-US");

/** The row of `heap` replaying `trace` (on `memory`, when given). */
export function heapRow(
  rows: readonly TraceRow[],
  trace: string | undefined,
  heap: string,
  memory?: string,
): TraceRow | undefined {
  return rows.find(
    (r) => r.trace === trace && r.heap === heap && (memory === undefined || r.memory === memory),
  );
}

/** Machine seconds / flat seconds of every heap replayed on the machine, on `trace`, worst first. */
export function machineFlatRatios(
  rows: readonly TraceRow[],
  trace: string | undefined,
): { trace: string; heap: string; ratio: number }[] {
  return rows
    .filter((r) => r.trace === trace && r.memory === "machine")
    .map((machine) => {
      const flat = heapRow(rows, trace, machine.heap, "flat");
      return {
        trace: machine.trace,
        heap: machine.heap,
        ratio: flat ? machine.seconds / flat.seconds : NaN,
      };
    })
    .sort((a, b) => b.ratio - a.ratio);
}

/** Judges every goal of the benchmark on `results`. */
export function judgeGoals(results: Omit<BenchResults, "goals">): GoalResult[] {
  const goals: GoalResult[] = [];
  const add = (id: GoalId, goal: string, met: boolean | null, measured: string) =>
    goals.push({ id, goal, met, measured });
  const rate = (plugin: string, occupancy: number) =>
    results.pmm.find((r) => r.plugin === plugin && r.occupancy === occupancy)?.opsPerSec ?? NaN;
  const occupancies = [...new Set(results.pmm.map((r) => r.occupancy))];

  const stackShares = occupancies.map((o) => rate("pmm-stack", o) / results.pmmLimit.opsPerSec);
  add(
    "pmm-stack-vs-array",
    "pmm-stack >= 0.5x the bare Int32Array push/pop loop",
    stackShares.every((share) => share >= 0.5),
    `${occupancies.map((o, i) => `${o * 100} %: ${x(stackShares[i]!)}`).join(", ")}`,
  );

  const stack90 = rate("pmm-stack", 0.9);
  const shares90 = ["pmm-bitmap", "pmm-buddy"].map((p) => [p, rate(p, 0.9) / stack90] as const);
  add(
    "pmm-90-vs-stack",
    "pmm-bitmap and pmm-buddy >= 0.5x pmm-stack at 90 % occupancy",
    shares90.every(([, share]) => share >= 0.5),
    shares90.map(([p, share]) => `${p} ${x(share)}`).join(", "),
  );

  const traces = [...new Set(results.heaps.map((r) => r.trace))];
  const perTrace = (heap: string, reference: string, memory = "flat") =>
    traces.map((trace) => {
      const mine = heapRow(results.heaps, trace, heap, memory);
      const theirs = heapRow(results.heaps, trace, reference);
      return {
        trace,
        share: mine && theirs ? mine.opsPerSec / theirs.opsPerSec : NaN,
        mine,
        theirs,
      };
    });

  const vsBump = perTrace("heap-slab", "bump-arena");
  add(
    "slab-vs-bump",
    "heap-slab on flat memory >= 0.2x the JavaScript bump arena's ops/s on every trace",
    vsBump.every((t) => t.share >= 0.2),
    vsBump.map((t) => `${t.trace} ${x(t.share)}`).join(", "),
  );

  const vsNative = perTrace("heap-slab", "native-malloc").filter((t) => t.theirs !== undefined);
  add(
    "slab-vs-native",
    "heap-slab on flat memory >= 0.33x native malloc's ops/s on every trace",
    vsNative.length === 0 ? null : vsNative.every((t) => t.share >= 0.33),
    vsNative.length === 0
      ? "not measured (no C compiler)"
      : vsNative.map((t) => `${t.trace} ${x(t.share)}`).join(", "),
  );

  const slabFlat = traces.map((trace) => heapRow(results.heaps, trace, "heap-slab", "flat"));
  add(
    "slab-fragmentation",
    "heap-slab fragmentation <= 1.35 on every trace",
    slabFlat.every((r) => r !== undefined && r.fragmentation <= 1.35),
    slabFlat.map((r) => `${r?.trace} ${r?.fragmentation.toFixed(3)}`).join(", "),
  );

  const fragVsNative = traces
    .map((trace) => ({
      trace,
      slab: heapRow(results.heaps, trace, "heap-slab", "flat"),
      native: heapRow(results.heaps, trace, "native-malloc"),
    }))
    .filter((t) => t.native !== undefined && t.slab !== undefined);
  const notWorse = fragVsNative.filter((t) => t.slab!.fragmentation <= t.native!.fragmentation);
  add(
    "slab-fragmentation-vs-native",
    "heap-slab fragmentation <= native malloc's on most traces",
    fragVsNative.length === 0 ? null : notWorse.length * 2 > fragVsNative.length,
    fragVsNative.length === 0
      ? "not measured (no C compiler)"
      : fragVsNative
          .map(
            (t) =>
              `${t.trace} ${t.slab!.fragmentation.toFixed(3)} vs ${t.native!.fragmentation.toFixed(3)}`,
          )
          .join(", "),
  );

  const sample = traces[0];
  const bucket = heapRow(results.heaps, sample, "heap-bucket", "flat");
  const thing = heapRow(results.heaps, sample, "thi.ng");
  const bucketShare = bucket && thing ? bucket.opsPerSec / thing.opsPerSec : NaN;
  add(
    "bucket-vs-thing",
    "heap-bucket >= 100x @thi.ng/malloc's ops/s on the sample trace",
    bucketShare >= 100,
    `${sample ?? "?"} ${x(bucketShare)}`,
  );

  const ratios = traces
    .flatMap((trace) => machineFlatRatios(results.heaps, trace))
    .sort((a, b) => b.ratio - a.ratio);
  add(
    "machine-vs-flat",
    "every heap on the machine (metadata and data through the MMU and TLB) <= 2x its flat time",
    ratios.length > 0 && ratios.every((r) => r.ratio <= 2),
    ratios
      .map((r) => `${r.heap}${traces.length > 1 ? ` (${r.trace})` : ""} ${x(r.ratio)}`)
      .join(", "),
  );

  const longBoots = (ramGiB: number) =>
    results.boot.filter((b) => b.mode === "long" && b.ramGiB === ramGiB);
  const big = longBoots(64);
  add(
    "boot-64g",
    "64 GiB long-mode boot < 1 s with each PMM (the first boot in a fresh process)",
    big.length > 0 && big.every((b) => b.coldSeconds < 1),
    big.map((b) => `${b.pmm} ${(b.coldSeconds * 1000).toFixed(1)} ms`).join(", "),
  );
  const bootRatios = big.map((b) => {
    const small = longBoots(1).find((s) => s.pmm === b.pmm);
    return { pmm: b.pmm, ratio: small ? b.seconds / small.seconds : NaN };
  });
  add(
    "boot-64g-vs-1g",
    "boot(64 GiB) / boot(1 GiB) <= 4 in long mode with each PMM",
    bootRatios.length > 0 && bootRatios.every((b) => b.ratio <= 4),
    bootRatios.map((b) => `${b.pmm} ${x(b.ratio)}`).join(", "),
  );

  const worst = [...results.vmmScaling.scaling].sort((a, b) => b.ratio - a.ratio);
  const over = worst.filter((s) => !s.met);
  add(
    "vmm-100k-vs-1k",
    `VMM map+unmap at ${count(results.vmmScaling.sizes[1])} regions <= ${results.vmmScaling.goalRatio}x its per-operation cost at ${count(results.vmmScaling.sizes[0])}`,
    over.length === 0,
    `${worst.length - over.length} of ${worst.length} configurations within` +
      (over.length === 0
        ? ` (worst ${worst[0] ? `${worst[0].mode} ${worst[0].access} ${worst[0].pattern} ${x(worst[0].ratio)}` : "none"})`
        : `; over: ${over.map((s) => `${s.mode} ${s.access} ${s.pattern} ${x(s.ratio)}`).join(", ")}`),
  );
  return goals;
}
