import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  compose,
  heapTestbedConfig,
  readTraceFile,
  traceName,
  replayTrace,
  type Trace,
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

/**
 * The outside references, replayed beside the heaps: @thi.ng/malloc and the bump arena on the
 * same harness (flat), the C library's malloc in a C program.
 */
export const TRACE_REFERENCES = ["thi.ng", "bump-arena", "native-malloc"] as const;

/**
 * Bytes for a reference's flat memory: everything the trace asks for without a single free,
 * with room for a header and alignment per block (the bump arena's worst case), capped at 2 GiB.
 */
function referenceBytes(trace: Trace): number {
  let total = 1 << 20;
  for (let i = 0; i < trace.length; i++) if (trace.ops[i] !== 2) total += trace.sizes[i]! + 32;
  for (let i = 0; i < trace.length; i++) if (trace.aligns[i]! > 16) total += trace.aligns[i]!;
  return Math.min(2 ** 31, Math.ceil(total / 65536) * 65536);
}
export const TRACE_MEMORIES = ["flat", "machine"] as const;
export type TraceMemory = (typeof TRACE_MEMORIES)[number];

/** One heap on one memory: the replay report, with the median rate of several replays. */
export interface TraceRow extends TraceReplayReport {
  /** Replays whose median opsPerSec (and seconds) is reported. */
  runs: number;
}

/**
 * Replays the first `ops` operations of a trace file `runs` times, each on a freshly composed
 * system (or a fresh reference heap), in this process. Footprint and fragmentation are the same
 * every time (the replays are deterministic); the rate is the median.
 */
export async function measureTraceReplay(
  heap: string,
  memory: TraceMemory,
  ops: number,
  runs: number,
  file: string = SAMPLE_TRACE,
): Promise<TraceRow> {
  const entry = TRACE_HEAPS.find((candidate) => candidate.name === heap);
  if (entry === undefined && heap !== "bump-arena" && heap !== "thi.ng")
    throw new Error(`bench: unknown heap ${heap}`);
  const trace = readTraceFile(file, ops);
  // Loaded only here: @thi.ng/malloc is a dev dependency, absent where the CLI is installed.
  const { ThingMalloc } =
    heap === "thi.ng" ? await import("../references/thing-malloc.js") : { ThingMalloc: undefined };
  const reports: TraceReplayReport[] = [];
  for (let run = 0; run < runs; run++) {
    if (entry === undefined) {
      const bytes = referenceBytes(trace);
      const reference = ThingMalloc ? new ThingMalloc(bytes) : new BumpArena(bytes);
      reports.push(replayTrace(trace, reference, { heap, memory }));
      continue;
    }
    const system = await compose(
      heapTestbedConfig({ plugin: entry.plugin, options: entry.options }, memory),
      {
        resolveFrom: [fileURLToPath(new URL("../..", import.meta.url))],
      },
    );
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
 * Whether @thi.ng/malloc can be loaded: it is a dev dependency of this package, there in the
 * repository and absent where the CLI was installed from a tarball (its row is then left out).
 */
export function thingMallocInstalled(): boolean {
  try {
    import.meta.resolve("@thi.ng/malloc");
    return true;
  } catch {
    return false;
  }
}

/** The trace files of a folder (`*.trc` and `*.trc.gz`), sorted by name. */
export function traceFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => /\.trc(\.gz)?$/.test(name))
    .sort()
    .map((name) => join(dir, name));
}

/**
 * For each trace file: every heap on both memories, then @thi.ng/malloc and the bump arena
 * (flat) and the C library's malloc, each in a fresh process. @thi.ng/malloc is replayed once
 * (`referenceRuns`): its free walks a list of every live block, so one replay of the sample takes
 * seconds. The native row is left out when the machine has no C compiler.
 */
export function measureTraceReplays(
  files: readonly string[],
  ops: number,
  runs: number,
  log: (line: string) => void = () => {},
): TraceRow[] {
  const script = fileURLToPath(new URL("../trace-child.js", import.meta.url));
  const child = (file: string, heap: string, memory: TraceMemory, times: number): TraceRow => {
    log(`${traceName(file)}: ${heap} on ${memory}`);
    return JSON.parse(
      execFileSync(process.execPath, [script, heap, memory, String(ops), String(times), file], {
        encoding: "utf8",
        maxBuffer: 1 << 20,
      }),
    ) as TraceRow;
  };
  const rows: TraceRow[] = [];
  for (const file of files) {
    for (const memory of TRACE_MEMORIES) {
      for (const entry of TRACE_HEAPS) rows.push(child(file, entry.name, memory, runs));
    }
    if (thingMallocInstalled()) rows.push(child(file, "thi.ng", "flat", 1));
    rows.push(child(file, "bump-arena", "flat", runs));
    log(`${traceName(file)}: native-malloc`);
    const native = measureNativeReplay(file, ops, runs);
    if (native !== undefined) rows.push(native);
  }
  return rows;
}
