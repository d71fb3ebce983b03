import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { readTraceFile } from "@allockit/core";
import {
  MAP_PATTERNS,
  SAMPLE_TRACE,
  VMM_SIZES,
  formatBench,
  type BenchResults,
} from "@allockit/bench";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** Whether this machine has the C compiler the native-malloc reference is built with. */
const hasCompiler = ((): boolean => {
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

// Runs `allockit bench --quick` as a user would (the built CLI, `npx tsc -b` first): every
// table at tiny sizes. No timing is asserted anywhere.
describe("allockit bench --quick", () => {
  let results: BenchResults;
  let stdout = "";
  let stderr = "";
  beforeAll(async () => {
    const json = join(mkdtempSync(join(tmpdir(), "allockit-bench-")), "bench.json");
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        ["packages/cli/dist/bin.js", "bench", "--quick", "--json", json],
        { cwd: repoRoot, encoding: "utf8", maxBuffer: 16 << 20 },
        (error, out, err) => {
          stdout = out;
          stderr = err;
          if (error === null) resolve();
          else reject(new Error(`allockit bench failed: ${error.message}\n${err}`));
        },
      );
    });
    results = JSON.parse(readFileSync(json, "utf8")) as BenchResults;
  }, 180_000);

  it("prints every table on stdout and one progress line per table on stderr (not a terminal)", () => {
    expect(stdout).toBe(formatBench(results));
    for (const title of [
      "PMM: single-frame",
      "MMU",
      "Sparse machine",
      "VMM: map",
      "Boot:",
      "Trace replay:",
    ])
      expect(stdout).toContain(title);
    expect(stderr.trim().split("\n")).toHaveLength(8);
    expect(stderr).not.toContain("\x1b[");
  });

  it("measures every table and formats them", () => {
    expect(results.mmu.tlbHitRead32OpsPerSec).toBeGreaterThan(0);
    expect(results.mmu.dataViewRead32OpsPerSec).toBeGreaterThan(0);
    expect(results.sparseMachine.touchedPages).toBeGreaterThanOrEqual(5); // 4 tables + the page
    expect(results.sparseMachine.touchedPages).toBeLessThan(16);
    const text = formatBench(results);
    expect(text).toContain("read32");
    expect(text).toContain("Sparse machine");
  });

  it("measures VMM map+unmap at both sizes for every mode, access and pattern", () => {
    const { vmm } = results;
    expect(vmm.sizes).toEqual([1_000, 100_000]);
    expect(vmm.scaling).toHaveLength(3 * 3 * MAP_PATTERNS.length);
    expect(vmm.rows).toHaveLength(vmm.scaling.length * VMM_SIZES.length);
    const configs = new Set(vmm.scaling.map((s) => `${s.mode} ${s.access}`));
    expect(configs.size).toBe(9);
    for (const row of vmm.rows) {
      expect(row.opsPerSec).toBeGreaterThan(0);
      expect(Number.isFinite(row.opsPerSec)).toBe(true);
      expect(row.fillMs).toBeGreaterThan(0);
    }
    for (const s of vmm.scaling) {
      expect(s.ratio).toBeCloseTo(s.smallOpsPerSec / s.largeOpsPerSec, 6);
      expect(s.met).toBe(s.ratio <= vmm.goalRatio);
    }
    // 100,000 committed regions spread 16 KiB apart need hundreds of page tables more than 1,000.
    for (const mode of ["32bit", "pae", "long"]) {
      const tables = (regions: number) =>
        vmm.rows.find((r) => r.mode === mode && r.access === "direct-map" && r.regions === regions)!
          .pageTablePages;
      expect(tables(100_000) - tables(1_000)).toBeGreaterThan(300);
    }
    expect(vmm.goals.map((g) => g.pattern)).toEqual([...MAP_PATTERNS]);
    expect(vmm.goalMet).toBe(vmm.goals.every((g) => g.met));
    const text = formatBench(results);
    expect(text).toContain("100,000 regions");
    expect(text).toContain("goal: the larger no more than 1.5x slower per operation -- ");
    expect(text).toMatch(/^ {2}spread: +(met|NOT met), \d of 9 within/m);
  });

  it("measures boot time per mode and PMM, and long mode on 64 GiB", () => {
    const { boot } = results;
    expect(boot.map((r) => `${r.preset} ${r.mode} ${r.pmm}`)).toEqual([
      ...["32bit", "pae", "long"].flatMap((mode) =>
        ["pmm-stack", "pmm-bitmap", "pmm-buddy"].map((pmm) => `qemu-i440fx-4g ${mode} ${pmm}`),
      ),
      ...["pmm-stack", "pmm-bitmap", "pmm-buddy"].map((pmm) => `qemu-q35-64g long ${pmm}`),
    ]);
    for (const row of boot) {
      expect(row.ms).toBeGreaterThan(0);
      expect(row.coldMs).toBeGreaterThan(0);
      expect(row.ms).toBeGreaterThanOrEqual(row.pmmMs);
      expect(row.frames).toBeGreaterThan(100); // PMM metadata and the kernel page tables
    }
    // 16x the RAM: more PMM metadata.
    const frames = (preset: string, pmm: string) =>
      boot.find((r) => r.preset === preset && r.mode === "long" && r.pmm === pmm)!.frames;
    for (const pmm of ["pmm-stack", "pmm-bitmap", "pmm-buddy"])
      expect(frames("qemu-q35-64g", pmm)).toBeGreaterThan(frames("qemu-i440fx-4g", pmm));
    expect(formatBench(results)).toMatch(/^qemu-q35-64g +long +pmm-buddy +[\d.]+ ms/m);
  });

  it("replays the sample trace on every heap, flat and on the machine, and on the references", () => {
    const { trace } = results;
    const heaps = ["list-heap", "heap-slab", "heap-bucket", "heap-guard-sampling"];
    expect(trace.map((r) => `${r.heap} ${r.memory}`)).toEqual([
      ...["flat", "machine"].flatMap((memory) => heaps.map((heap) => `${heap} ${memory}`)),
      "bump-arena flat",
      // The C library's malloc needs a C compiler at bench time; without one it is left out.
      ...(hasCompiler ? ["native-malloc native"] : []),
    ]);
    // The same 20,000 operations everywhere: the same live peak, whatever the heap.
    const peak = trace[0]!.peakLiveBytes;
    for (const row of trace) {
      expect(row.trace).toBe("python-ast");
      expect(row.ops).toBe(20_000);
      expect(row.failures).toBe(0);
      expect(row.peakLiveBytes).toBe(peak);
      expect(row.peakFootprintBytes).toBeGreaterThanOrEqual(peak);
      expect(row.fragmentation).toBeCloseTo(row.peakFootprintBytes / peak, 3);
      expect(row.opsPerSec).toBeGreaterThan(0);
    }
    // The bump arena never frees: its footprint holds every byte the operations asked for.
    const arena = trace.find((r) => r.heap === "bump-arena")!;
    const replayed = readTraceFile(SAMPLE_TRACE, 20_000);
    let asked = 0;
    for (let i = 0; i < replayed.length; i++)
      if (replayed.ops[i] !== 2) asked += replayed.sizes[i]!;
    expect(arena.peakFootprintBytes).toBeGreaterThanOrEqual(asked);
    expect(formatBench(results)).toMatch(/^heap-bucket +machine +[\d.]+ [kM]? +[\d.]+ s/m);
    expect(formatBench(results)).toMatch(
      hasCompiler ? /^native-malloc +native +/m : /native-malloc: not measured \(no C compiler/,
    );
  });
});
