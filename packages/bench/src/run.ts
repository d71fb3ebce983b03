import { cpus } from "node:os";
import { formatSize } from "@allockit/core";
import { formatRate, formatTable } from "./measure.js";
import { measureMmu, type MmuFigures } from "./tables/mmu.js";
import {
  measureBareStack,
  measureContiguousRuns,
  measurePmmInit,
  measurePmmThroughput,
  type PmmInitFigures,
  type PmmRunThroughput,
  type PmmThroughput,
} from "./tables/pmm.js";
import { measureSparseMachine, type SparseFigures } from "./tables/sparse-machine.js";
import { measureBootTimes, type BootTime } from "./tables/boot.js";
import { MAP_PATTERNS, measureVmm, type VmmFigures } from "./tables/vmm.js";
import { measureTraceReplays, type TraceRow } from "./tables/trace.js";

export interface BenchOptions {
  /** Tiny sizes: exercises every code path fast (for CI), figures meaningless. */
  quick: boolean;
}

/** Everything `pnpm bench` measures (the JSON it writes). */
export interface BenchResults {
  machine: { node: string; cpu: string; cores: number; platform: string; quick: boolean };
  /** Single-frame alloc+free per PMM and occupancy. */
  pmm: PmmThroughput[];
  /** The same rounds on a bare Int32Array stack. */
  pmmLimit: { opsPerSec: number };
  /** Contiguous runs, for the PMMs that hand them out. */
  pmmRuns: PmmRunThroughput[];
  pmmInit: PmmInitFigures[];
  mmu: MmuFigures;
  sparseMachine: SparseFigures;
  /** map+unmap with 1 000 and 100 000 live regions, per mode, access and pattern. */
  vmm: VmmFigures;
  /** bootSystem time per machine, mode and PMM. */
  boot: BootTime[];
  /** The sample trace replayed on each heap, flat and on the machine. */
  trace: TraceRow[];
}

/** The tables runBench measures, one `log` line each. */
export const BENCH_STAGES = 8;

export function runBench(
  options: BenchOptions,
  log: (line: string) => void = () => {},
): BenchResults {
  const measure = options.quick
    ? { runs: 1, operations: 10_000 }
    : { runs: 7, operations: 4_000_000 };
  log("PMM: single-frame alloc+free at 0 / 50 / 90 % occupancy, and the bare Int32Array stack ...");
  const pmm = measurePmmThroughput(measure, 1);
  const pmmLimit = { opsPerSec: measureBareStack(measure) };
  log("PMM: contiguous runs of 8, 64 and 512 frames ...");
  const pmmRuns = measureContiguousRuns(measure, 1);
  log("PMM: init time, host RSS and metadata (a fresh process each) ...");
  const pmmInit = measurePmmInit(options.quick ? [1] : [1, 16, 64]);
  log("MMU: read32 / write32 through the TLB (all hits) next to a DataView loop ...");
  const mmu = measureMmu(options.quick ? measure : { runs: 7, operations: 20_000_000 });
  log("sparse machine: 64 GiB, 4-level paging, last page of RAM written and read ...");
  const sparseMachine = measureSparseMachine(options.quick ? 1 : 64);
  log("VMM: map+unmap with 1,000 and 100,000 live regions, every mode and access ...");
  const vmm = measureVmm(
    options.quick ? { runs: 1, operations: 500 } : { runs: 5, operations: 30_000 },
  );
  log("boot: every mode and PMM on 4 GiB, long mode on 64 GiB ...");
  const boot = measureBootTimes(options.quick ? 1 : 25);
  log("trace replay: the python-ast sample on each heap, flat and on the machine ...");
  const trace = options.quick ? measureTraceReplays(20_000, 1) : measureTraceReplays(Infinity, 3);
  const cpu = cpus()[0];
  return {
    machine: {
      node: process.version,
      cpu: cpu?.model ?? "unknown",
      cores: cpus().length,
      platform: process.platform,
      quick: options.quick,
    },
    pmm,
    pmmLimit,
    pmmRuns,
    pmmInit,
    mmu,
    sparseMachine,
    vmm,
    boot,
    trace,
  };
}

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

export function formatBench(results: BenchResults): string {
  const { mmu, sparseMachine } = results;
  const plugins = [...new Set(results.pmm.map((r) => r.plugin))];
  const rate = (plugin: string, occupancy: number) =>
    results.pmm.find((r) => r.plugin === plugin && r.occupancy === occupancy)?.opsPerSec ?? NaN;
  const stack90 = rate("pmm-stack", 0.9);
  return [
    `allockit bench on ${results.machine.cpu} (${results.machine.cores} cores), Node ${results.machine.node}${results.machine.quick ? " -- quick run, figures not meaningful" : ""}`,
    "",
    "PMM: single-frame alloc+free (rounds of 32 allocations, then 32 frees), 1 GiB q35 machine, median calls/s",
    formatTable(
      ["plugin", "0 %", "50 %", "90 %", "90 % vs stack", "0 % vs Int32Array"],
      [
        ...plugins.map((p) => [
          p,
          formatRate(rate(p, 0)),
          formatRate(rate(p, 0.5)),
          formatRate(rate(p, 0.9)),
          ratio(rate(p, 0.9), stack90),
          ratio(rate(p, 0), results.pmmLimit.opsPerSec),
        ]),
        ["Int32Array push/pop", formatRate(results.pmmLimit.opsPerSec), "", "", "", "1.00x"],
      ],
    ),
    "",
    "PMM: contiguous runs (8 allocations, then 8 frees), median calls/s",
    formatTable(
      ["plugin", "8 frames", "64 frames", "512 frames"],
      [...new Set(results.pmmRuns.map((r) => r.plugin))].map((p) => [
        p,
        ...[8, 64, 512].map((f) =>
          formatRate(
            results.pmmRuns.find((r) => r.plugin === p && r.frames === f)?.opsPerSec ?? NaN,
          ),
        ),
      ]),
    ),
    "",
    "PMM: init over a q35 map (fresh process each)",
    formatTable(
      ["plugin", "RAM", "init", "host RSS", "RSS growth", "metadata", "metadata per GiB"],
      results.pmmInit.map((r) => [
        r.plugin,
        `${r.ramGiB} GiB`,
        `${(r.seconds * 1000).toFixed(1)} ms`,
        formatSize(r.hostRssBytes),
        formatSize(Math.max(0, r.hostRssBytes - r.baselineRssBytes)),
        formatSize(r.metadataBytes),
        formatSize(Math.round(r.metadataBytes / r.ramGiB)),
      ]),
    ),
    "",
    "MMU (4-level paging, every access a TLB hit), median ops/s",
    formatTable(
      ["access", "through the MMU", "raw DataView", "DataView / MMU"],
      [
        [
          "read32",
          formatRate(mmu.tlbHitRead32OpsPerSec),
          formatRate(mmu.dataViewRead32OpsPerSec),
          ratio(mmu.dataViewRead32OpsPerSec, mmu.tlbHitRead32OpsPerSec),
        ],
        [
          "write32",
          formatRate(mmu.tlbHitWrite32OpsPerSec),
          formatRate(mmu.dataViewWrite32OpsPerSec),
          ratio(mmu.dataViewWrite32OpsPerSec, mmu.tlbHitWrite32OpsPerSec),
        ],
      ],
    ),
    "",
    `Sparse machine: ${sparseMachine.ramGiB} GiB RAM, last page ${sparseMachine.lastPage} written and read through the MMU`,
    formatTable(
      ["host RSS", "before the machine", "pages backed"],
      [
        [
          formatSize(sparseMachine.hostRssBytes),
          formatSize(sparseMachine.baselineRssBytes),
          String(sparseMachine.touchedPages),
        ],
      ],
    ),
    "",
    ...formatVmm(results.vmm),
    "",
    ...formatBoot(results.boot),
    "",
    ...formatTrace(results.trace),
    "",
  ].join("\n");
}

function formatVmm(vmm: VmmFigures): string[] {
  const [small, large] = [vmm.sizes[0]!, vmm.sizes[vmm.sizes.length - 1]!];
  const largeRows = vmm.rows.filter((r) => r.regions === large && r.pattern === MAP_PATTERNS[0]);
  const range = (values: number[], unit = "") =>
    `${count(Math.round(Math.min(...values)))}-${count(Math.round(Math.max(...values)))}${unit}`;
  const width = Math.max(...vmm.goals.map((g) => g.pattern.length));
  return [
    `VMM: map (1 page, committed) + unmap in a user space with N live committed 1-page regions, 1 GiB machine, pmm-stack, median pairs/s`,
    formatTable(
      [
        "mode",
        "access",
        "pattern",
        `${count(small)} regions`,
        `${count(large)} regions`,
        "per-op time ratio",
      ],
      vmm.scaling.map((s) => [
        s.mode,
        s.access,
        s.pattern,
        formatRate(s.smallOpsPerSec),
        formatRate(s.largeOpsPerSec),
        `${s.ratio.toFixed(2)}x${s.met ? "" : " (over)"}`,
      ]),
    ),
    `first fit: no address, the gap search finds the lowest hole; spread: at a hole next to a different live region each time`,
    `building ${count(large)} regions: ${range(
      largeRows.map((r) => r.fillMs),
      " ms",
    )}; VMM page-table pages with them live: ${range(largeRows.map((r) => r.pageTablePages))}`,
    `goal: the larger no more than ${vmm.goalRatio}x slower per operation -- ${vmm.goalMet ? "met" : "NOT met"}`,
    ...vmm.goals.map(
      (g) =>
        `  ${`${g.pattern}:`.padEnd(width + 1)} ${g.met ? "met" : "NOT met"}, ${g.within} of ${g.of} within (worst ${g.worstRatio.toFixed(2)}x, ${g.worst})`,
    ),
  ];
}

function formatBoot(rows: readonly BootTime[]): string[] {
  return [
    `Boot: bootSystem from the firmware map to the kernel heap, direct-map access, fresh process each: first boot, then median of ${rows[0]?.runs ?? 0} more`,
    formatTable(
      ["machine", "mode", "pmm", "first boot", "boot", "pmm init", "page tables", "frames taken"],
      rows.map((r) => [
        r.preset,
        r.mode,
        r.pmm,
        `${r.coldMs.toFixed(1)} ms`,
        `${r.ms.toFixed(2)} ms`,
        `${r.pmmMs.toFixed(2)} ms`,
        `${r.pageTablesMs.toFixed(2)} ms`,
        `${count(r.frames)} (${formatSize(r.frames * 4096)})`,
      ]),
    ),
  ];
}

function formatTrace(rows: readonly TraceRow[]): string[] {
  const first = rows[0];
  return [
    `Trace replay: ${first?.trace ?? "?"}, ${count(first?.ops ?? 0)} operations (malloc / free / realloc), fresh process per heap, median of ${first?.runs ?? 0}`,
    formatTable(
      [
        "heap",
        "memory",
        "ops/s",
        "time",
        "peak live",
        "peak footprint",
        "fragmentation",
        "failures",
      ],
      rows.map((r) => [
        r.heap,
        r.memory,
        formatRate(r.opsPerSec),
        `${r.seconds.toFixed(3)} s`,
        formatSize(r.peakLiveBytes),
        formatSize(r.peakFootprintBytes),
        r.fragmentation.toFixed(3),
        count(r.failures),
      ]),
    ),
    "fragmentation = peak footprint (pages from the PageSource) / peak live bytes (sizes asked for)",
    "heap-guard-sampling: 1 allocation in 64 through guard pages, the rest to heap-slab",
    "bump-arena: a JavaScript bump pointer that never frees, on the same replay harness (the speed limit)",
    rows.some((r) => r.heap === "native-malloc")
      ? "native-malloc: the C library's malloc replaying the same trace in a C program (footprint: mallinfo2 arena + hblkhd)"
      : "native-malloc: not measured (no C compiler on this machine)",
  ];
}

function count(value: number): string {
  return value.toLocaleString("en-US");
}
