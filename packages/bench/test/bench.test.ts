import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { readTraceFile } from "@allockit/core";
import {
  GOAL_IDS,
  JSON_KEYS,
  MAP_PATTERNS,
  SAMPLE_TRACE,
  formatBench,
  formatBenchMarkdown,
  judgeGoals,
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

// Runs `pnpm bench --quick` as a user would (its script over the built CLI, `npx tsc -b` first):
// every table at tiny sizes. No timing is asserted anywhere.
describe("allockit bench --quick", () => {
  let results: BenchResults;
  let stdout = "";
  let stderr = "";
  let markdown = "";
  let json = "";
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "allockit-bench-"));
    json = join(dir, "bench.json");
    const md = join(dir, "bench.md");
    // A second trace for --traces: the sample's first 3,000 lines, uncompressed.
    const traces = join(dir, "traces");
    mkdirSync(traces);
    const lines = gunzipSync(readFileSync(SAMPLE_TRACE)).toString("utf8").split("\n");
    writeFileSync(join(traces, "ast-head.trc"), lines.slice(0, 3000).join("\n") + "\n");
    writeFileSync(join(traces, "notes.txt"), "not a trace\n");
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [
          // What `pnpm bench --quick ...` runs after `tsc -b`.
          "scripts/bench.mjs",
          "--quick",
          "--json",
          json,
          "--markdown",
          md,
          "--traces",
          traces,
        ],
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
    markdown = readFileSync(md, "utf8");
  }, 240_000);

  it("prints every table on stdout and one progress line per step on stderr (not a terminal)", () => {
    expect(stdout).toBe(formatBench(results));
    for (const title of [
      "PMM: single-frame",
      "MMU: read32",
      "MMU: the page walk",
      "Sparse machine",
      "VMM: map",
      "Boot:",
      "Trace replay: python-ast,",
      "Trace replay: ast-head,",
      "Goals",
    ])
      expect(stdout).toContain(title);
    // Six tables, then per trace 4 heaps x 2 memories and 3 references.
    const steps = stderr.trim().split("\n");
    expect(steps).toHaveLength(6 + 2 * 11);
    expect(steps[0]).toMatch(/^\[1\/28\] PMM/);
    expect(steps[27]).toBe("[28/28] trace replay: ast-head: native-malloc");
    expect(stderr).not.toContain("\x1b[");
  });

  it("writes the JSON in the documented shape", () => {
    expect(Object.keys(results)).toEqual(JSON_KEYS.map(([key]) => key));
    const has = (row: object, keys: string[]) =>
      expect(Object.keys(row)).toEqual(expect.arrayContaining(keys));
    for (const row of results.pmm) has(row, ["plugin", "occupancy", "opsPerSec"]);
    expect(results.pmm.map((r) => `${r.plugin} ${r.occupancy}`)).toEqual(
      ["pmm-stack", "pmm-bitmap", "pmm-buddy"].flatMap((p) =>
        [0, 0.5, 0.9].map((o) => `${p} ${o}`),
      ),
    );
    expect(results.pmmLimit.opsPerSec).toBeGreaterThan(0);
    for (const row of results.pmmInit)
      has(row, ["plugin", "ramGiB", "seconds", "hostRssBytes", "metadataBytes"]);
    has(results.mmu, ["tlbHitRead32OpsPerSec", "dataViewRead32OpsPerSec"]);
    for (const row of results.vmm) has(row, ["regions", "opsPerSec"]);
    for (const row of results.boot) has(row, ["mode", "pmm", "ramGiB", "seconds"]);
    for (const row of results.heaps)
      has(row, [
        "trace",
        "heap",
        "memory",
        "opsPerSec",
        "peakLiveBytes",
        "peakFootprintBytes",
        "fragmentation",
      ]);
    expect(results.goals.map((g) => g.id)).toEqual([...GOAL_IDS]);
    // The goals are a function of the figures: judging them again gives the same verdicts.
    const { goals, ...figures } = results;
    expect(judgeGoals(figures)).toEqual(goals);
    expect(results.machine.quick).toBe(true);
    expect(results.machine.cores).toBeGreaterThan(0);
  });

  it("measures the page walk of every mode: each access of the miss loop walks", () => {
    expect(results.mmu.walks.map((w) => [w.mode, w.levels])).toEqual([
      ["32bit", 2],
      ["pae", 3],
      ["long", 4],
    ]);
    for (const walk of results.mmu.walks) {
      expect(walk.missRead32OpsPerSec).toBeGreaterThan(0);
      expect(walk.hitRead32OpsPerSec).toBeGreaterThan(0);
      expect(walk.walkNs).toBeCloseTo(
        1e9 / walk.missRead32OpsPerSec - 1e9 / walk.hitRead32OpsPerSec,
        3,
      );
    }
  });

  it("writes docs/benchmarks.md's report, and --from renders it again from the JSON alone", async () => {
    expect(markdown).toBe(formatBenchMarkdown(results));
    expect(markdown).toContain(`Measured on ${results.machine.cpu}`);
    expect(markdown).toContain("a --quick run: figures not meaningful");
    for (const goal of results.goals) {
      expect(markdown).toContain(goal.goal);
      // A missed goal links to its section, which states the measured limit.
      if (goal.met === false) {
        expect(markdown).toContain(`[why](#${goal.id})`);
        expect(markdown).toContain(`<a id="${goal.id}"></a>`);
      } else expect(markdown).not.toContain(`<a id="${goal.id}"></a>`);
    }
    for (const [key] of JSON_KEYS) expect(markdown).toContain(`- \`${key}\`: `);
    const again = join(mkdtempSync(join(tmpdir(), "allockit-bench-from-")), "again.md");
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ["packages/cli/dist/bin.js", "bench", "--from", json, "--markdown", again],
        { cwd: repoRoot, encoding: "utf8" },
        (error, text) => (error === null ? resolve(text) : reject(error)),
      ),
    );
    expect(out).toBe(formatBench(results));
    expect(readFileSync(again, "utf8")).toBe(markdown);
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
    const vmm = { ...results.vmmScaling, rows: results.vmm };
    expect(vmm.sizes).toEqual([200, 10_000]); // --quick's; a full run compares VMM_SIZES
    expect(vmm.scaling).toHaveLength(3 * 3 * MAP_PATTERNS.length);
    expect(vmm.rows).toHaveLength(vmm.scaling.length * 2);
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
    // 10,000 committed regions spread 16 KiB apart span 160 MiB: dozens of page tables more than
    // 200 need (78 of 2 MiB in PAE and long mode, 39 of 4 MiB in 32-bit mode).
    for (const [mode, more] of [
      ["32bit", 39],
      ["pae", 78],
      ["long", 78],
    ] as const) {
      const tables = (regions: number) =>
        vmm.rows.find((r) => r.mode === mode && r.access === "direct-map" && r.regions === regions)!
          .pageTablePages;
      expect(tables(10_000) - tables(200)).toBeGreaterThanOrEqual(more - 1);
    }
    expect(vmm.goals.map((g) => g.pattern)).toEqual([...MAP_PATTERNS]);
    expect(vmm.goalMet).toBe(vmm.goals.every((g) => g.met));
    const text = formatBench(results);
    expect(text).toContain("10,000 regions");
    expect(text).toMatch(/^spread: \d of 9 within 1\.5x \(worst [\d.]+x, /m);
  });

  it("measures boot time per mode and PMM, and long mode on 64 GiB", () => {
    const { boot } = results;
    const pmms = ["pmm-stack", "pmm-bitmap", "pmm-buddy"];
    expect(boot.map((r) => `${r.machine} ${r.ramGiB} ${r.mode} ${r.pmm}`)).toEqual([
      ...["32bit", "pae", "long"].flatMap((mode) => pmms.map((pmm) => `i440fx 4 ${mode} ${pmm}`)),
      ...pmms.map((pmm) => `q35 1 long ${pmm}`),
      ...pmms.map((pmm) => `q35 64 long ${pmm}`),
    ]);
    for (const row of boot) {
      expect(row.seconds).toBeGreaterThan(0);
      expect(row.coldSeconds).toBeGreaterThan(0);
      expect(row.seconds).toBeGreaterThanOrEqual(row.pmmSeconds);
      expect(row.frames).toBeGreaterThan(100); // PMM metadata and the kernel page tables
    }
    // 64x the RAM: more PMM metadata.
    const frames = (ramGiB: number, pmm: string) =>
      boot.find((r) => r.machine === "q35" && r.ramGiB === ramGiB && r.pmm === pmm)!.frames;
    for (const pmm of pmms) expect(frames(64, pmm)).toBeGreaterThan(frames(1, pmm));
    expect(formatBench(results)).toMatch(/^q35, 64 GiB +long +pmm-buddy +[\d.]+ ms/m);
  });

  it("replays the sample trace on every heap, flat and on the machine, and on the references", () => {
    const trace = results.heaps.filter((r) => r.trace === "python-ast");
    const heaps = ["list-heap", "heap-slab", "heap-bucket", "heap-guard-sampling"];
    expect(trace.map((r) => `${r.heap} ${r.memory}`)).toEqual([
      ...["flat", "machine"].flatMap((memory) => heaps.map((heap) => `${heap} ${memory}`)),
      "thi.ng flat",
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
    expect(formatBench(results)).toMatch(/^thi\.ng +flat +[\d.]+ [kM]? +[\d.]+ s/m);
    expect(formatBench(results)).toMatch(
      hasCompiler ? /^native-malloc +native +/m : /native-malloc: not measured \(no C compiler/,
    );
  });

  it("replays each --traces file (and no other file there) on every heap and reference", () => {
    expect([...new Set(results.heaps.map((r) => r.trace))]).toEqual(["python-ast", "ast-head"]);
    const sample = results.heaps.filter((r) => r.trace === "python-ast");
    const extra = results.heaps.filter((r) => r.trace === "ast-head");
    expect(extra.map((r) => `${r.heap} ${r.memory}`)).toEqual(
      sample.map((r) => `${r.heap} ${r.memory}`),
    );
    for (const row of extra) {
      expect(row.ops).toBe(3000);
      expect(row.failures).toBe(0);
      expect(row.peakLiveBytes).toBe(extra[0]!.peakLiveBytes);
    }
  });
});

describe("allockit bench: bad arguments", () => {
  const fail = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ["packages/cli/dist/bin.js", "bench", ...args],
        { cwd: repoRoot, encoding: "utf8" },
        (error, _out, stderr) =>
          resolve({ code: error === null ? 0 : (error.code as number), stderr }),
      ),
    );

  it("names a --traces folder without trace files, and a --from file that is not a bench JSON", async () => {
    const empty = mkdtempSync(join(tmpdir(), "allockit-bench-empty-"));
    const traces = await fail(["--quick", "--traces", empty]);
    expect(traces.code).toBe(1);
    expect(traces.stderr).toContain(`--traces ${empty}: no *.trc or *.trc.gz files there`);
    const notBench = join(empty, "other.json");
    writeFileSync(notBench, JSON.stringify({ machine: {} }));
    const from = await fail(["--from", notBench]);
    expect(from.code).toBe(1);
    expect(from.stderr).toContain(`--from ${notBench}: not an allockit bench JSON (no "pmm")`);
    const both = await fail(["--from", notBench, "--quick"]);
    expect(both.stderr).toContain("--from renders a saved run; --quick and --traces measure");
  });
});
