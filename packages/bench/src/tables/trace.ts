import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  compose,
  readTraceFile,
  replayTrace,
  type AllockitConfig,
  type TraceReplayReport,
} from "@allockit/core";
import { median } from "../measure.js";

/** The sample trace shipped with the repository (see fixtures/traces/README.md). */
export const SAMPLE_TRACE = fileURLToPath(
  new URL("../../../../fixtures/traces/python-ast.trc.gz", import.meta.url),
);

/** The heaps replayed, by the names `allockit trace replay --heap` takes. */
export const TRACE_HEAPS: ReadonlyArray<readonly [string, string]> = [
  ["list-heap", "@allockit/core/list-heap"],
  ["heap-slab", "@allockit/heap-slab"],
  ["heap-bucket", "@allockit/heap-bucket"],
];
export const TRACE_MEMORIES = ["flat", "machine"] as const;
export type TraceMemory = (typeof TRACE_MEMORIES)[number];

/** One heap on one memory: the replay report, with the median rate of several replays. */
export interface TraceRow extends TraceReplayReport {
  /** Replays whose median opsPerSec (and seconds) is reported. */
  runs: number;
}

/** The same systems as `allockit trace replay --memory flat|machine`. */
function configFor(plugin: string, memory: TraceMemory): AllockitConfig {
  const heap = { plugin, options: {} };
  if (memory === "flat")
    return { machine: { plugin: "@allockit/core/flat", options: { sizeMiB: 512 } }, heap };
  return {
    machine: { plugin: "@allockit/x86-machine", options: { ramMiB: 512 } },
    pmm: { plugin: "@allockit/pmm-buddy", options: {} },
    vmm: { plugin: "@allockit/vmm", options: { mode: "long" } },
    heap,
  };
}

/**
 * Replays the first `ops` operations of the sample trace `runs` times, each on a freshly
 * composed system, in this process. Footprint and fragmentation are the same every time (the
 * replays are deterministic); the rate is the median.
 */
export async function measureTraceReplay(
  heap: string,
  memory: TraceMemory,
  ops: number,
  runs: number,
): Promise<TraceRow> {
  const plugin = TRACE_HEAPS.find(([name]) => name === heap)?.[1];
  if (plugin === undefined) throw new Error(`bench: unknown heap ${heap}`);
  const trace = readTraceFile(SAMPLE_TRACE, ops);
  const reports: TraceReplayReport[] = [];
  for (let run = 0; run < runs; run++) {
    const system = await compose(configFor(plugin, memory), {
      resolveFrom: [fileURLToPath(new URL("../..", import.meta.url))],
    });
    reports.push(replayTrace(trace, system.heap, { heap, memory }));
  }
  const first = reports[0]!;
  for (const report of reports) {
    if (report.peakFootprintBytes !== first.peakFootprintBytes)
      throw new Error(`bench: ${heap} on ${memory}: replays of the same trace differ`);
  }
  return {
    ...first,
    seconds: median(reports.map((r) => r.seconds)),
    opsPerSec: Math.round(median(reports.map((r) => r.opsPerSec))),
    runs,
  };
}

/** Every heap on both memories, each in a fresh process. */
export function measureTraceReplays(ops: number, runs: number): TraceRow[] {
  const script = fileURLToPath(new URL("../trace-child.js", import.meta.url));
  const rows: TraceRow[] = [];
  for (const memory of TRACE_MEMORIES) {
    for (const [heap] of TRACE_HEAPS) {
      const out = execFileSync(
        process.execPath,
        [script, heap, memory, String(ops), String(runs)],
        {
          encoding: "utf8",
          maxBuffer: 1 << 20,
        },
      );
      rows.push(JSON.parse(out) as TraceRow);
    }
  }
  return rows;
}
