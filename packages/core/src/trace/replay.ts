import type { Heap } from "../contracts/heap.js";
import { hex } from "../address.js";
import { AllocatorError } from "../errors.js";
import { TRACE_ALLOC, TRACE_FREE, type Trace } from "./parse.js";

/**
 * What `allockit trace replay --json` prints. The shape is a public interface: scripts compare
 * heaps by these fields, so they stay as they are.
 */
export interface TraceReplayReport {
  /** The trace's name (its file name without `.trc.gz`). */
  trace: string;
  /** The heap plugin, as named on the command line. */
  heap: string;
  /** "flat" or "machine". */
  memory: string;
  /** Operations replayed. */
  ops: number;
  /** Wall time of the replay loop (parsing and the final frees excluded). */
  seconds: number;
  opsPerSec: number;
  /** Most bytes live at once, by the sizes the trace asked for. */
  peakLiveBytes: number;
  /** Most bytes the heap held from its page source at once (its stats' peakFootprintBytes). */
  peakFootprintBytes: number;
  /** peakFootprintBytes / peakLiveBytes (0 when nothing was live). */
  fragmentation: number;
  /** Allocations (and reallocs) that returned 0. */
  failures: number;
}

export interface TraceReplayOptions {
  /** Report fields that describe the run rather than the trace. */
  heap: string;
  memory: string;
  /**
   * Stamp each block with its ID at both ends and check the stamps when it is freed or
   * reallocated (default true): a heap that hands out overlapping blocks or writes into live
   * data fails the replay with ECORRUPT instead of producing figures.
   */
  verify?: boolean;
}

const END_STAMP = 0x5a17c0de;

/**
 * Replays a trace on a heap. Each `a` is heap_alloc(SIZE, ALIGN); each `f` heap_free; each `r` a
 * C realloc: in place when heap_size already suffices, else a new block, min(old, new) bytes
 * copied, the old block freed. A 0 from the heap counts as a failure and the ID is skipped from
 * then on; a failed realloc frees the old block (the trace no longer names it). Blocks still
 * live at the end are freed afterwards (untimed) and `heap.check()` runs. The footprint is the
 * heap's own peakFootprintBytes: the pages it held from its page source (or sources) at once.
 */
export function replayTrace(
  trace: Trace,
  heap: Heap,
  options: TraceReplayOptions,
): TraceReplayReport {
  const verify = options.verify ?? true;
  const memory = heap.memory;
  const pointers = new Float64Array(trace.maxId + 1);
  const requested = new Float64Array(trace.maxId + 1);
  const { ops, ids, newIds, sizes, aligns } = trace;
  let liveBytes = 0;
  let peakLiveBytes = 0;
  let failures = 0;

  const corrupt = (index: number, id: number, ptr: number): never => {
    throw new AllocatorError(
      "ECORRUPT",
      `trace ${trace.name} operation ${index + 1}: block ${id} at ${hex(ptr)} (${requested[id]} bytes) was changed while live: ${heap.name} handed out overlapping memory or wrote into a live block`,
      ptr,
    );
  };
  const stamp = (id: number, ptr: number, size: number): void => {
    if (size >= 4) memory.write32(ptr, id);
    if (size >= 8) memory.write32(ptr + size - 4, (END_STAMP ^ id) >>> 0);
  };
  const stamped = (id: number, ptr: number, size: number): boolean =>
    (size < 4 || memory.read32(ptr) === id) &&
    (size < 8 || memory.read32(ptr + size - 4) === (END_STAMP ^ id) >>> 0);

  const started = performance.now();
  for (let i = 0; i < trace.length; i++) {
    const op = ops[i]!;
    const id = ids[i]!;
    if (op === TRACE_ALLOC) {
      const size = sizes[i]!;
      const ptr = heap.heap_alloc(size, aligns[i]!);
      if (ptr === 0) {
        failures++;
        continue;
      }
      pointers[id] = ptr;
      requested[id] = size;
      if (verify) stamp(id, ptr, size);
      liveBytes += size;
      if (liveBytes > peakLiveBytes) peakLiveBytes = liveBytes;
    } else if (op === TRACE_FREE) {
      const ptr = pointers[id]!;
      if (ptr === 0) continue;
      if (verify && !stamped(id, ptr, requested[id]!)) corrupt(i, id, ptr);
      heap.heap_free(ptr);
      pointers[id] = 0;
      liveBytes -= requested[id]!;
    } else {
      const ptr = pointers[id]!;
      const next = newIds[i]!;
      if (ptr === 0) continue;
      const oldSize = requested[id]!;
      const size = sizes[i]!;
      if (verify && !stamped(id, ptr, oldSize)) corrupt(i, id, ptr);
      pointers[id] = 0;
      liveBytes -= oldSize;
      let moved = ptr;
      if (heap.heap_size(ptr) < size) {
        moved = heap.heap_alloc(size, 0);
        if (moved !== 0) memory.copy(moved, ptr, Math.min(oldSize, size));
        heap.heap_free(ptr);
        if (moved === 0) {
          failures++;
          continue;
        }
      }
      pointers[next] = moved;
      requested[next] = size;
      if (verify) stamp(next, moved, size);
      liveBytes += size;
      if (liveBytes > peakLiveBytes) peakLiveBytes = liveBytes;
    }
  }
  const seconds = (performance.now() - started) / 1000;

  for (let id = 1; id <= trace.maxId; id++) {
    const ptr = pointers[id]!;
    if (ptr === 0) continue;
    if (verify && !stamped(id, ptr, requested[id]!)) corrupt(trace.length - 1, id, ptr);
    heap.heap_free(ptr);
  }
  heap.check();

  const peakFootprintBytes = heap.stats().peakFootprintBytes;
  return {
    trace: trace.name,
    heap: options.heap,
    memory: options.memory,
    ops: trace.length,
    seconds: round(seconds, 4),
    opsPerSec: seconds > 0 ? Math.round(trace.length / seconds) : 0,
    peakLiveBytes,
    peakFootprintBytes,
    fragmentation: peakLiveBytes > 0 ? round(peakFootprintBytes / peakLiveBytes, 4) : 0,
    failures,
  };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The report as a short table for a terminal. */
export function formatTraceReport(report: TraceReplayReport): string {
  const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(2)} MiB`;
  return (
    [
      `trace ${report.trace}: ${report.heap} on ${report.memory} memory`,
      `  ops            ${report.ops.toLocaleString("en-US")} in ${report.seconds.toFixed(3)} s (${report.opsPerSec.toLocaleString("en-US")} ops/s)`,
      `  peak live      ${mib(report.peakLiveBytes)}`,
      `  peak footprint ${mib(report.peakFootprintBytes)}`,
      `  fragmentation  ${report.fragmentation.toFixed(3)} (footprint / live)`,
      `  failures       ${report.failures}`,
    ].join("\n") + "\n"
  );
}
