import { readTraceFile, replayTrace, type TraceReplayReport } from "@allockit/core";
import { heapSystemConfig, heapSystemSource, type HeapSystemFlags } from "./heap-system.js";
import { composeConfig } from "./system.js";

export interface TraceReplayFlags extends HeapSystemFlags {
  file: string;
  /** Replay only the first `ops` operations. */
  ops?: number;
  /** Check each block's ID stamps (default true). */
  verify?: boolean;
}

/**
 * `allockit trace replay`: composes the heap on flat memory or on the machine, replays the
 * trace on it and reports (see TraceReplayReport; `--json` prints exactly that object).
 */
export async function replayTraceFile(flags: TraceReplayFlags): Promise<TraceReplayReport> {
  const trace = readTraceFile(flags.file, flags.ops ?? Infinity);
  const system = await composeConfig(heapSystemConfig(flags), heapSystemSource(flags));
  return replayTrace(trace, system.heap, {
    heap: flags.heap,
    memory: flags.memory,
    verify: flags.verify ?? true,
  });
}
