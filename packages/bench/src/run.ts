import { cpus, totalmem } from "node:os";
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
import { measureVmm, type VmmFigures, type VmmThroughput } from "./tables/vmm.js";
import {
  SAMPLE_TRACE,
  TRACE_HEAPS,
  TRACE_MEMORIES,
  TRACE_REFERENCES,
  measureTraceReplays,
  type TraceRow,
} from "./tables/trace.js";
import { judgeGoals, type GoalResult } from "./goals.js";

export interface BenchOptions {
  /** Tiny sizes: exercises every code path fast (for CI), figures meaningless. */
  quick: boolean;
  /** More trace files to replay after the sample (each `*.trc` / `*.trc.gz` of a folder). */
  traces?: readonly string[];
}

/** Where the figures were measured. */
export interface BenchMachine {
  node: string;
  cpu: string;
  cores: number;
  platform: string;
  arch: string;
  memoryBytes: number;
  /** When the run finished (ISO 8601). */
  date: string;
  quick: boolean;
}

/**
 * Everything `pnpm bench` measures: the JSON it writes (a public interface, documented in
 * docs/benchmarks.md; fields are only ever added).
 */
export interface BenchResults {
  machine: BenchMachine;
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
  vmm: VmmThroughput[];
  /** The VMM rows paired by size: per-operation ratio of 100 000 to 1 000 regions. */
  vmmScaling: Omit<VmmFigures, "rows">;
  /** bootSystem time per machine, RAM size, mode and PMM. */
  boot: BootTime[];
  /** Each trace replayed on each heap, flat and on the machine, and on the references. */
  heaps: TraceRow[];
  /** Every goal judged on these figures. */
  goals: GoalResult[];
}

/** A step of the run, for a progress display: `done` of `total` steps taken. */
export type BenchProgress = (done: number, total: number, label: string) => void;

export function runBench(options: BenchOptions, progress: BenchProgress = () => {}): BenchResults {
  const traces = [SAMPLE_TRACE, ...(options.traces ?? [])];
  // Six tables, then per trace every heap on both memories and each reference.
  const total =
    6 + traces.length * (TRACE_HEAPS.length * TRACE_MEMORIES.length + TRACE_REFERENCES.length);
  let done = 0;
  const step = (label: string) => progress(done++, total, label);
  const measure = options.quick
    ? { runs: 1, operations: 10_000 }
    : { runs: 7, operations: 4_000_000 };
  step(
    "PMM: single-frame alloc+free at 0 / 50 / 90 % occupancy, contiguous runs, the bare Int32Array stack",
  );
  const pmm = measurePmmThroughput(measure, 1);
  const pmmLimit = { opsPerSec: measureBareStack(measure) };
  const pmmRuns = measureContiguousRuns(measure, 1);
  step("PMM: init time, host RSS and metadata at 1, 16 and 64 GiB (a fresh process each)");
  const pmmInit = measurePmmInit(options.quick ? [1] : [1, 16, 64]);
  step("MMU: read32 / write32 TLB hits next to a DataView loop, and the walk per mode");
  const mmu = measureMmu(options.quick ? measure : { runs: 7, operations: 20_000_000 });
  step("sparse machine: 64 GiB, 4-level paging, last page of RAM written and read");
  const sparseMachine = measureSparseMachine(options.quick ? 1 : 64);
  step(
    "VMM: map+unmap with 1,000 and 100,000 live regions (quick: 200 and 10,000), every mode and access",
  );
  const { rows: vmm, ...vmmScaling } = measureVmm(
    options.quick
      ? { runs: 1, operations: 500, sizes: [200, 10_000] }
      : { runs: 5, operations: 30_000 },
  );
  step("boot: every mode and PMM on 4 GiB, long mode on 1 and 64 GiB");
  const boot = measureBootTimes(options.quick ? 1 : 25);
  const heaps = measureTraceReplays(
    traces,
    options.quick ? 20_000 : Infinity,
    options.quick ? 1 : 3,
    (label) => step(`trace replay: ${label}`),
  );
  const cpu = cpus()[0];
  const partial = {
    machine: {
      node: process.version,
      cpu: cpu?.model ?? "unknown",
      cores: cpus().length,
      platform: process.platform,
      arch: process.arch,
      memoryBytes: totalmem(),
      date: new Date().toISOString(),
      quick: options.quick,
    },
    pmm,
    pmmLimit,
    pmmRuns,
    pmmInit,
    mmu,
    sparseMachine,
    vmm,
    vmmScaling,
    boot,
    heaps,
  };
  return { ...partial, goals: judgeGoals(partial) };
}
