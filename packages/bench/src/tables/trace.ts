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
import { BumpArena } from "../references/bump-arena.js";
import { measureNativeReplay } from "../references/native-malloc.js";

/** The sample trace shipped with the repository (see fixtures/traces/README.md). */
export const SAMPLE_TRACE = fileURLToPath(
  new URL("../../../../fixtures/traces/python-ast.trc.gz", import.meta.url),
);

/** A heap plugin the trace table replays: the row's name, the plugin and its options. */
export interface TraceHeap {
  name: string;
  plugin: string;
  options: Record<string, unknown>;
}

/** The heaps replayed, flat and on the machine. */
export const TRACE_HEAPS: readonly TraceHeap[] = [
  { name: "list-heap", plugin: "@allockit/core/list-heap", options: {} },
  { name: "heap-slab", plugin: "@allockit/heap-slab", options: {} },
  { name: "heap-bucket", plugin: "@allockit/heap-bucket", options: {} },
  {
    name: "heap-guard-sampling",
    plugin: "@allockit/heap-guard",
    options: { sample: { every: 64, heap: { plugin: "@allockit/heap-slab" } } },
  },
];

/** The outside references, replayed once each beside the heaps. */
export const TRACE_REFERENCES = ["bump-arena", "native-malloc"] as const;

/** Flat memory of the bump arena: the whole trace's requests without a single free. */
const BUMP_ARENA_BYTES = 256 * 1024 * 1024;
export const TRACE_MEMORIES = ["flat", "machine"] as const;
export type TraceMemory = (typeof TRACE_MEMORIES)[number];

/** One heap on one memory: the replay report, with the median rate of several replays. */
export interface TraceRow extends TraceReplayReport {
  /** Replays whose median opsPerSec (and seconds) is reported. */
  runs: number;
}

/** The same systems as `allockit trace replay --memory flat|machine`. */
function configFor(entry: TraceHeap, memory: TraceMemory): AllockitConfig {
  const heap = { plugin: entry.plugin, options: entry.options };
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
  const entry = TRACE_HEAPS.find((candidate) => candidate.name === heap);
  if (entry === undefined && heap !== "bump-arena") throw new Error(`bench: unknown heap ${heap}`);
  const trace = readTraceFile(SAMPLE_TRACE, ops);
  const reports: TraceReplayReport[] = [];
  for (let run = 0; run < runs; run++) {
    if (entry === undefined) {
      reports.push(replayTrace(trace, new BumpArena(BUMP_ARENA_BYTES), { heap, memory }));
      continue;
    }
    const system = await compose(configFor(entry, memory), {
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

/**
 * Every heap on both memories, then the bump arena (flat) and the C library's malloc, each in
 * a fresh process. The native row is left out, with a note, when the machine has no C compiler.
 */
export function measureTraceReplays(ops: number, runs: number): TraceRow[] {
  const script = fileURLToPath(new URL("../trace-child.js", import.meta.url));
  const child = (heap: string, memory: TraceMemory): TraceRow =>
    JSON.parse(
      execFileSync(process.execPath, [script, heap, memory, String(ops), String(runs)], {
        encoding: "utf8",
        maxBuffer: 1 << 20,
      }),
    ) as TraceRow;
  const rows: TraceRow[] = [];
  for (const memory of TRACE_MEMORIES) {
    for (const entry of TRACE_HEAPS) rows.push(child(entry.name, memory));
  }
  rows.push(child("bump-arena", "flat"));
  const native = measureNativeReplay(SAMPLE_TRACE, ops, runs);
  if (native !== undefined) rows.push(native);
  return rows;
}
