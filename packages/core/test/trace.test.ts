import { gzipSync } from "node:zlib";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  FlatMemory,
  FlatPageSource,
  ListHeap,
  MiB,
  TRACE_ALLOC,
  TRACE_FREE,
  TRACE_REALLOC,
  isAllocatorError,
  parseTrace,
  readTraceFile,
  replayTrace,
  traceName,
  type Heap,
} from "@allockit/core";

const SAMPLE = [
  "a 1 100 0",
  "a 2 40 16",
  "",
  "# comment",
  "r 1 3 300",
  "f 2",
  "a 4 0 0",
  "f 3",
].join("\n");

function errorOf(action: () => unknown): Error & { code?: string } {
  try {
    action();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected an error");
}

function flatHeap(pageLimit?: number): { heap: ListHeap; source: FlatPageSource } {
  const source = new FlatPageSource(
    new FlatMemory(16 * MiB),
    pageLimit === undefined ? {} : { pageLimit },
  );
  return { heap: new ListHeap(source), source };
}

describe("parseTrace", () => {
  it("reads the three operations into columns, skipping blank lines and comments", () => {
    const trace = parseTrace(SAMPLE, "sample");
    expect(trace.length).toBe(6);
    expect([...trace.ops]).toEqual([
      TRACE_ALLOC,
      TRACE_ALLOC,
      TRACE_REALLOC,
      TRACE_FREE,
      TRACE_ALLOC,
      TRACE_FREE,
    ]);
    expect([...trace.ids]).toEqual([1, 2, 1, 2, 4, 3]);
    expect(trace.newIds[2]).toBe(3);
    expect([...trace.sizes]).toEqual([100, 40, 300, 0, 0, 0]);
    expect(trace.aligns[1]).toBe(16);
    expect(trace.maxId).toBe(4);
    expect(trace.counts).toEqual({ alloc: 3, free: 2, realloc: 1 });
  });

  it("stops after maxOps operations", () => {
    expect(parseTrace(SAMPLE, "sample", 2).length).toBe(2);
  });

  it.each([
    ["x 1 2 3", /line 1: unknown operation "x"/],
    ["a 1 2", /line 1: a takes 3 number/],
    ["a 1 -5 0", /"-5" is not a non-negative integer/],
    ["a 0 8 0", /ID 0 is not in 1/],
    ["a 1 8 0\na 1 8 0", /line 2: ID 1 is used again/],
    ["f 9", /ID 9 is not live \(free: never allocated\)/],
    ["a 1 8 0\nf 1\nf 1", /line 3: ID 1 is not live \(free: already gone\)/],
    ["a 1 8 0\nr 1 1 16", /ID 1 is used again \(realloc to\)/],
  ])("rejects %j with EINVAL naming the line", (text, message) => {
    const error = errorOf(() => parseTrace(text, "bad"));
    expect(isAllocatorError(error) && error.code === "EINVAL").toBe(true);
    expect(error.message).toMatch(message);
    expect(error.message).toContain("trace bad");
  });

  it("reads plain and gzip files alike and names the trace after the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "allockit-trace-"));
    writeFileSync(join(dir, "tiny.trc"), SAMPLE);
    writeFileSync(join(dir, "tiny.trc.gz"), gzipSync(SAMPLE));
    const plain = readTraceFile(join(dir, "tiny.trc"));
    const packed = readTraceFile(join(dir, "tiny.trc.gz"));
    expect(packed.name).toBe("tiny");
    expect([...packed.ids]).toEqual([...plain.ids]);
    expect(traceName("/x/python-ast.trc.gz")).toBe("python-ast");
    const missing = errorOf(() => readTraceFile(join(dir, "absent.trc")));
    expect(missing.message).toMatch(/cannot read trace .*absent\.trc/);
  });
});

/** Peak of the sum of live sizes, computed the plain way. */
function modelPeak(text: string): number {
  const live = new Map<number, number>();
  let peak = 0;
  for (const line of text.split("\n")) {
    const [op, a, b, c] = line.split(" ");
    if (op === "a") live.set(Number(a), Number(b));
    if (op === "f") live.delete(Number(a));
    if (op === "r") {
      live.delete(Number(a));
      live.set(Number(b), Number(c));
    }
    const sum = [...live.values()].reduce((x, y) => x + y, 0);
    peak = Math.max(peak, sum);
  }
  return peak;
}

/** A random well-formed trace. */
const traceText = fc
  .array(fc.tuple(fc.nat(9), fc.integer({ min: 0, max: 9000 }), fc.constantFrom(0, 8, 64, 4096)), {
    minLength: 1,
    maxLength: 120,
  })
  .map((steps) => {
    const lines: string[] = [];
    const live: number[] = [];
    let next = 1;
    for (const [roll, size, align] of steps) {
      if (live.length === 0 || roll < 5) {
        lines.push(`a ${next} ${size} ${align}`);
        live.push(next++);
      } else if (roll < 8) {
        lines.push(`f ${live.splice(roll % live.length, 1)[0]}`);
      } else {
        const old = live.splice(roll % live.length, 1)[0];
        lines.push(`r ${old} ${next} ${size}`);
        live.push(next++);
      }
    }
    return lines.join("\n");
  });

describe("replayTrace", () => {
  it("reports peak live bytes, footprint and fragmentation, and leaves the heap empty", () => {
    fc.assert(
      fc.property(traceText, (text) => {
        const { heap, source } = flatHeap();
        const report = replayTrace(parseTrace(text, "random"), heap, {
          heap: "list-heap",
          memory: "flat",
        });
        expect(Object.keys(report)).toEqual([
          "trace",
          "heap",
          "memory",
          "ops",
          "seconds",
          "opsPerSec",
          "peakLiveBytes",
          "peakFootprintBytes",
          "fragmentation",
          "failures",
        ]);
        expect(report.failures).toBe(0);
        expect(report.peakLiveBytes).toBe(modelPeak(text));
        expect(report.peakFootprintBytes).toBe(heap.stats().peakFootprintBytes);
        expect(report.peakFootprintBytes).toBe(source.stats().peakPagesInUse * 4096);
        if (report.peakLiveBytes > 0)
          expect(report.fragmentation).toBeCloseTo(
            report.peakFootprintBytes / report.peakLiveBytes,
            3,
          );
        expect(heap.stats().liveBlocks).toBe(0);
        expect(source.stats().pagesInUse).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it("counts failed allocations and skips later operations on their IDs", () => {
    // Two pages: the 64 KiB block cannot be had, the small ones can.
    const { heap } = flatHeap(2);
    const trace = parseTrace("a 1 65536 0\na 2 100 0\nr 1 3 10\nf 3\nf 2\na 4 200000 0", "oom");
    const report = replayTrace(trace, heap, { heap: "list-heap", memory: "flat" });
    expect(report.failures).toBe(2);
    expect(report.peakLiveBytes).toBe(100);
    expect(heap.stats().liveBlocks).toBe(0);
  });

  it("moves a realloc that outgrows its block and keeps its first bytes", () => {
    const { heap } = flatHeap();
    const copies: number[] = [];
    const memory = heap.memory;
    const watched: Heap = Object.assign(Object.create(heap) as ListHeap, {
      heap_alloc: (size: number, align?: number) => {
        const ptr = heap.heap_alloc(size, align);
        copies.push(ptr);
        return ptr;
      },
    });
    const trace = parseTrace("a 1 64 0\nr 1 2 5000\nf 2", "grow");
    replayTrace(trace, watched, { heap: "list-heap", memory: "flat" });
    expect(copies.length).toBe(2);
    expect(copies[1]).not.toBe(copies[0]);
    // The ID stamp of block 1 was copied, then block 2's stamp written over it.
    expect(memory.read32(copies[1]!)).toBe(2);
  });

  it("fails with ECORRUPT when a heap hands out memory that overlaps a live block", () => {
    const { heap } = flatHeap();
    let first = 0;
    const overlapping: Heap = Object.assign(Object.create(heap) as ListHeap, {
      heap_alloc: (size: number, align?: number) => {
        const ptr = heap.heap_alloc(size, align);
        if (first === 0) first = ptr;
        else return first;
        return ptr;
      },
      heap_free: () => {},
      check: () => {},
    });
    const trace = parseTrace("a 1 64 0\na 2 64 0\nf 1\nf 2", "overlap");
    const error = errorOf(() =>
      replayTrace(trace, overlapping, { heap: "broken", memory: "flat" }),
    );
    expect(isAllocatorError(error) && error.code === "ECORRUPT").toBe(true);
    expect(error.message).toMatch(
      /trace overlap operation 3: block 1 at 0x[0-9a-f]+ \(64 bytes\) was changed/,
    );
  });
});
