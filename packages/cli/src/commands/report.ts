import { resolve } from "node:path";
import type { Command } from "commander";
import { formatSize } from "@allockit/core";
import {
  ReportRecorder,
  createReportData,
  ownerId,
  snapshotSystem,
  writeReport,
  type ReportData,
} from "@allockit/report";
import { HEAP_SHORT_NAMES, MEMORY_KINDS, composeFileOrHeap } from "../heap-system.js";
import { addWorkloadOptions, integerOption } from "../options.js";
import type { CliCommand } from "../registry.js";
import { summarizePlugins } from "../system.js";
import { ProgressBar } from "../progress.js";
import { SystemWorkload } from "../system-workload.js";

const DEFAULT_OUT = "allockit-report";
/** Samples over the run when --every is not given. */
const DEFAULT_SAMPLES = 200;
/** With no config: the slab heap on the booted machine, so the report has a frame map. */
const DEFAULT_HEAP = { heap: "heap-slab", memory: "machine" } as const;

/** What `allockit report` takes. */
export interface ReportRunOptions {
  /** A JSON config file; without one (and without heap/memory), heap-slab on the machine. */
  configFile?: string;
  heap?: string;
  memory?: string;
  ops: number;
  seed: number;
  maxLiveBlocks?: number;
  /** Operations between samples (default: the run in DEFAULT_SAMPLES samples). */
  sampleEvery?: number;
  /** Directory to write index.html and report.json into. */
  out: string;
}

/** What `runReport` wrote. */
export interface ReportRunResult {
  html: string;
  json: string;
  data: ReportData;
}

/**
 * Composes the system as `run` does, runs the synthetic workload sampling the recorder as it
 * goes, snapshots the frame map and address spaces while the workload's blocks are still live,
 * writes the report, then frees the blocks and checks the heap.
 */
export async function runReport(options: ReportRunOptions): Promise<ReportRunResult> {
  // Without a config file the default is a heap on the machine (a flat system has no frame map).
  const flagged = options.heap !== undefined || options.memory !== undefined;
  const heap =
    options.configFile !== undefined && !flagged
      ? undefined
      : { heap: options.heap ?? DEFAULT_HEAP.heap, memory: options.memory ?? DEFAULT_HEAP.memory };
  const system = await composeFileOrHeap(options.configFile, heap);
  const recorder = new ReportRecorder(system);
  recorder.sample(0);
  const every = options.sampleEvery ?? Math.max(1, Math.ceil(options.ops / DEFAULT_SAMPLES));
  // The kernel-like workload of `run`, its events (page and DMA buffers, processes) at each
  // sample, so the frame map shows user frames and the charts show their faults.
  const bar = new ProgressBar("report");
  const workload = new SystemWorkload(system, {
    ops: options.ops,
    seed: options.seed,
    ...(options.maxLiveBlocks === undefined ? {} : { maxLiveBlocks: options.maxLiveBlocks }),
    eventEvery: every,
    onProgress: (done, total) => {
      recorder.sample(done);
      bar.update(done, total);
    },
  });
  const started = performance.now();
  const counters = workload.run();
  const seconds = (performance.now() - started) / 1000;
  bar.clear();
  const snapshot = snapshotSystem(system);
  const data = createReportData({
    system,
    recorder,
    snapshot,
    source: system.source,
    plugins: summarizePlugins(system).map(({ section, name }) => ({ section, name })),
    run: {
      operations: counters.operations,
      allocs: counters.allocs,
      frees: counters.frees,
      reallocs: counters.reallocs,
      failures: counters.failures,
      peakLiveBytes: counters.peakLiveBytes,
      peakLiveBlocks: counters.peakLiveBlocks,
      seed: options.seed,
      seconds: Math.round(seconds * 1000) / 1000,
    },
  });
  const written = writeReport(options.out, data);
  workload.releaseAll();
  system.heap.check();
  return { ...written, data };
}

/** One line saying what the report shows. */
export function formatReportSummary(result: ReportRunResult): string {
  const { data } = result;
  const final = data.final;
  const map = data.frameMap;
  const frames =
    map === null
      ? "no machine (flat memory)"
      : `${(map.endFrame - map.firstFrame).toLocaleString("en-US")} frames mapped, ` +
        `${map.counts[ownerId("free")]!.toLocaleString("en-US")} free, ` +
        `${map.counts[ownerId("heap")]!.toLocaleString("en-US")} heap`;
  const parts = [
    frames,
    `heap ${formatSize(final.heapLiveBytes)} live in ${formatSize(final.heapFootprintBytes)}`,
    `fragmentation ${final.fragmentation === null ? "n/a" : final.fragmentation.toFixed(2)}`,
  ];
  if (final.pageFaults !== null)
    parts.push(`${final.pageFaults.toLocaleString("en-US")} page faults`);
  if (final.tlbHitRate !== null) parts.push(`TLB hit rate ${(final.tlbHitRate * 100).toFixed(2)}%`);
  return `report written to ${resolve(result.html)}\n${parts.join("; ")}\n`;
}

interface ReportCommandOptions {
  config?: string;
  heap?: string;
  memory?: string;
  ops: number;
  seed: number;
  maxLive: number;
  every?: number;
  out: string;
}

export const reportCommand: CliCommand = {
  name: "report",
  description:
    "run like `run` (default: heap-slab on the machine) and write a self-contained HTML report: frame map, address spaces, heap, PMM, faults and TLB over the run",
  configure(command: Command) {
    command
      .option("-c, --config <file>", "JSON config naming the plugins")
      .option(
        "--heap <plugin>",
        `instead of a config: the heap (${Object.keys(HEAP_SHORT_NAMES).join(", ")} or a plugin package / path; default ${DEFAULT_HEAP.heap})`,
      )
      .option(
        "--memory <kind>",
        `with --heap: ${MEMORY_KINDS.join(" or ")} (default ${DEFAULT_HEAP.memory}; flat has no frame map)`,
      );
    addWorkloadOptions(command)
      .option(
        "--every <n>",
        `operations between samples (default: ${DEFAULT_SAMPLES} samples over the run)`,
        integerOption(1),
      )
      .option("-o, --out <dir>", "directory for index.html and report.json", DEFAULT_OUT)
      .action(async (options: ReportCommandOptions) => {
        const result = await runReport({
          ...(options.config === undefined ? {} : { configFile: options.config }),
          ...(options.heap === undefined ? {} : { heap: options.heap }),
          ...(options.memory === undefined ? {} : { memory: options.memory }),
          ops: options.ops,
          seed: options.seed,
          maxLiveBlocks: options.maxLive,
          ...(options.every === undefined ? {} : { sampleEvery: options.every }),
          out: options.out,
        });
        process.stdout.write(formatReportSummary(result));
      });
  },
};
