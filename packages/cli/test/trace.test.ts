import { readTraceFile } from "@allockit/core";
import { describe, expect, it } from "vitest";
import { allockitProcess as allockit, repoRoot } from "./cli-process.js";

const SAMPLE = "fixtures/traces/python-ast.trc.gz";

/** Peak of the summed sizes of live blocks over the first `ops` operations, the plain way. */
function expectedPeak(ops: number): number {
  const trace = readTraceFile(`${repoRoot}/${SAMPLE}`, ops);
  const sizes = new Float64Array(trace.maxId + 1);
  let live = 0;
  let peak = 0;
  for (let i = 0; i < trace.length; i++) {
    const op = trace.ops[i];
    if (op !== 1) {
      live -= sizes[trace.ids[i]!]!;
      sizes[trace.ids[i]!] = 0;
    }
    const id = op === 1 ? trace.ids[i]! : op === 3 ? trace.newIds[i]! : 0;
    if (id !== 0) {
      sizes[id] = trace.sizes[i]!;
      live += trace.sizes[i]!;
    }
    peak = Math.max(peak, live);
  }
  return peak;
}

const REPORT_KEYS = [
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
];

describe("allockit trace replay", () => {
  const OPS = 40_000;
  const peak = expectedPeak(OPS);

  for (const memory of ["flat", "machine"]) {
    for (const heap of ["list-heap", "heap-slab", "heap-bucket"]) {
      it(`replays the sample trace on ${heap}, ${memory} (--json keeps its shape)`, async () => {
        const outcome = await allockit([
          "trace",
          "replay",
          SAMPLE,
          "--heap",
          heap,
          "--memory",
          memory,
          "--ops",
          String(OPS),
          "--json",
        ]);
        expect(outcome.stderr).toBe("");
        expect(outcome.code).toBe(0);
        const report = JSON.parse(outcome.stdout) as Record<string, unknown>;
        expect(Object.keys(report)).toEqual(REPORT_KEYS);
        expect(report).toMatchObject({
          trace: "python-ast",
          heap,
          memory,
          ops: OPS,
          peakLiveBytes: peak,
          failures: 0,
        });
        const footprint = report.peakFootprintBytes as number;
        expect(footprint % 4096).toBe(0);
        expect(footprint).toBeGreaterThanOrEqual(peak);
        expect(report.fragmentation).toBeCloseTo(footprint / peak, 3);
        expect(report.opsPerSec).toBeGreaterThan(0);
      });
    }
  }

  it("replays the whole trace and prints a table without --json", async () => {
    const outcome = await allockit(["trace", "replay", SAMPLE]);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toMatch(/^trace python-ast: list-heap on flat memory$/m);
    expect(outcome.stdout).toMatch(/ops +600,000 in [\d.]+ s/);
    expect(outcome.stdout).toMatch(/peak live +11\.41 MiB/);
    expect(outcome.stdout).toMatch(/failures +0/);
  });

  it("names a missing file, an unknown memory and an unknown heap", async () => {
    const missing = await allockit(["trace", "replay", "no-such.trc"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^allockit: EINVAL: cannot read trace no-such\.trc/);
    const memory = await allockit(["trace", "replay", SAMPLE, "--memory", "disk", "--ops", "10"]);
    expect(memory.code).toBe(1);
    expect(memory.stderr).toMatch(/--memory "disk" is not one of flat, machine/);
    const heap = await allockit([
      "trace",
      "replay",
      SAMPLE,
      "--heap",
      "no-such-heap",
      "--ops",
      "10",
    ]);
    expect(heap.code).toBe(1);
    expect(heap.stderr).toMatch(/EPLUGIN.*no-such-heap/);
  });
});

describe("allockit run --heap --memory --dump", () => {
  it("prints the bucket dump for heap-bucket", async () => {
    const outcome = await allockit([
      "run",
      "--heap",
      "heap-bucket",
      "--ops",
      "3000",
      "--max-live",
      "200",
      "--dump",
    ]);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toMatch(/heap dump after the workload, before the release:/);
    expect(outcome.stdout).toMatch(/BUCK|bucket/i);
    expect(outcome.stdout).toMatch(/USED/);
  });

  it("prints the slab cache statistics for heap-slab, on the machine too", async () => {
    const outcome = await allockit([
      "run",
      "--heap",
      "heap-slab",
      "--memory",
      "machine",
      "--ops",
      "3000",
      "--dump",
      "--json",
    ]);
    expect(outcome.stderr).toBe("");
    expect(outcome.code).toBe(0);
    const report = JSON.parse(outcome.stdout) as { dump: string; plugins: { name: string }[] };
    expect(report.plugins.map((p) => p.name)).toEqual([
      "@allockit/x86-machine",
      "@allockit/pmm-buddy",
      "@allockit/vmm",
      "@allockit/heap-slab",
    ]);
    expect(report.dump).toMatch(/slabinfo/);
    expect(report.dump).toMatch(/kmalloc-64/);
  });

  it("prints ListHeap's arenas; says so when a heap has no dump; refuses --heap with --config", async () => {
    const list = await allockit(["run", "--heap", "list-heap", "--ops", "2000", "--dump"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^list-heap: \d+ arena\(s\)/m);
    expect(list.stdout).toMatch(/^ {2}arena 0x[0-9a-f]+ /m);
    const none = await allockit([
      "run",
      "--heap",
      "allockit-plugin-example-heap",
      "--ops",
      "100",
      "--dump",
    ]);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/\(this heap has no dump\(\)\)/);
    const both = await allockit(["run", "--heap", "list-heap", "--config", "x.json"]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/either a config file \(x\.json\) or --heap/);
  });
});
