import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConformanceReport } from "../src/conformance-run.js";
import { allockitProcess, cleanEnv, type ProcessOutcome } from "./cli-process.js";

// These run the built CLI as a process (`npx tsc -b` first), as a user or CI would.
const leakyPlugin = "./packages/cli/test/fixtures/leaky-heap-plugin.mjs";

let outDir: string;
beforeAll(() => {
  outDir = mkdtempSync(join(tmpdir(), "allockit-conformance-"));
});
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function conformance(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ProcessOutcome> {
  return allockitProcess(["conformance", ...args], { env: cleanEnv(env), timeoutMs: 180_000 });
}

async function jsonReport(args: readonly string[]): Promise<ConformanceReport> {
  const outcome = await conformance([...args, "--json"]);
  expect(outcome.stderr).toBe("");
  return JSON.parse(outcome.stdout) as ConformanceReport;
}

/** The check lines of a text report: status and name. */
function checkLines(stdout: string): { status: string; name: string }[] {
  return [...stdout.matchAll(/^ {2}(PASS|FAIL|SKIP) {2}(\S+(?: \S+)*?) {2,}/gm)].map((m) => ({
    status: m[1]!,
    name: m[2]!,
  }));
}

describe("allockit conformance", () => {
  it("passes a third-party heap plugin by package name, with a readable report and JUnit XML", async () => {
    const junit = join(outDir, "example.xml");
    const outcome = await conformance([
      "allockit-plugin-example-heap",
      "--runs",
      "40",
      "--seed",
      "7",
      "--junit",
      junit,
    ]);
    expect(outcome.stderr).toBe("");
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toMatch(
      /^allockit conformance: allockit-plugin-example-heap \(heap plugin/,
    );
    expect(outcome.stdout).toContain("runs     40 random sequences, seed 7");
    expect(checkLines(outcome.stdout)).toEqual(
      [
        "properties",
        "alignment sweep",
        "bad arguments",
        "bad pointers",
        "out of memory",
        "release",
        "failure injection",
        "model run",
      ].map((name) => ({ status: "PASS", name })),
    );
    expect(outcome.stdout).toMatch(/model run .* 40 sequences, [\d,]+ steps, [\d,]+ allocations/);
    expect(outcome.stdout).toMatch(
      /^8 checks: 8 passed, 0 failed, 0 skipped in [\d.]+ s: passed$/m,
    );
    // Not a terminal: no colour, no progress bar.
    expect(outcome.stdout).not.toContain("\x1b[");

    const xml = readFileSync(junit, "utf8");
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>/);
    expect(xml).toContain(
      '<testsuite name="allockit-plugin-example-heap heap conformance" tests="8" failures="0"',
    );
    expect(xml.match(/<testcase /g)).toHaveLength(8);
    expect(xml).not.toContain("<failure");
    expect(xml).toContain('<property name="seed" value="7"/>');
  });

  it("fails a broken heap with exit status 1, the violation under the check, and failures in the XML", async () => {
    const junit = join(outDir, "leaky.xml");
    const outcome = await conformance([
      leakyPlugin,
      "--runs",
      "20",
      "--seed",
      "1",
      "--junit",
      junit,
    ]);
    expect(outcome.code).toBe(1);
    const lines = checkLines(outcome.stdout);
    expect(lines[0]).toEqual({ status: "PASS", name: "properties" });
    expect(lines.filter((l) => l.status === "FAIL").length).toBeGreaterThan(0);
    // The suite's own violation text, with the rule that broke.
    expect(outcome.stdout).toMatch(
      /\[heap-size-probe\] heap_size\(0x[0-9a-f]+\) returned \d+ right after heap_free/,
    );
    expect(outcome.stdout).toMatch(
      /^8 checks: \d passed, [1-7] failed, \d skipped in [\d.]+ s: FAILED$/m,
    );
    expect(outcome.stdout).toContain(
      `rerun with the same seed: allockit conformance ${leakyPlugin} --seed 1 --runs 20`,
    );

    const xml = readFileSync(junit, "utf8");
    const failures =
      xml.match(/<failure message="[^"]*" type="(ConformanceViolation|Error)">/g) ?? [];
    expect(failures.length).toBe(lines.filter((l) => l.status === "FAIL").length);
    expect(xml).toContain("[heap-size-probe]");
  });

  it("runs a heap on the machine with --memory machine, and reports as JSON", async () => {
    const report = await jsonReport([
      "list-heap",
      "--memory",
      "machine",
      "--runs",
      "20",
      "--seed",
      "3",
    ]);
    expect(report).toMatchObject({
      plugin: "@allockit/core/list-heap",
      specifier: "@allockit/core/list-heap",
      kind: "heap",
      memory: "machine",
      options: { arenaBytes: 65536 },
      numRuns: 20,
      seed: 3,
      ok: true,
      passed: 8,
      failed: 0,
    });
    const model = report.checks.find((c) => c.name === "model run");
    expect(model?.counts.sequences).toBe(20);
    expect(model?.counts.steps).toBeGreaterThan(20);
  });

  it("passes heap options given as JSON to the plugin's schema", async () => {
    const report = await jsonReport([
      "allockit-plugin-example-heap",
      "--options",
      '{"redzoneBytes":8}',
      "--runs",
      "10",
    ]);
    expect(report.options).toEqual({ redzoneBytes: 8 });
    expect(report.ok).toBe(true);
  });

  it("runs the PMM suite on a PMM plugin", async () => {
    const report = await jsonReport(["@allockit/pmm-stack", "--runs", "10", "--seed", "2"]);
    expect(report.kind).toBe("pmm");
    expect(report.checks.map((c) => c.name)).toEqual([
      "properties",
      "init",
      "page sizes",
      "bad arguments",
      "bad frees",
      "reserve",
      "exhaustion",
      "model run",
    ]);
    expect(report.checks.every((c) => c.status === "passed")).toBe(true);
    expect(report.checks[1]!.counts.checked).toBeGreaterThan(10); // maps
  });

  it("runs the VMM suite on a VMM plugin, booted over a buddy PMM", async () => {
    const report = await jsonReport(["@allockit/vmm", "--runs", "5", "--seed", "4"]);
    expect(report.kind).toBe("vmm");
    expect(report.checks).toHaveLength(7);
    expect(report.ok).toBe(true);
    expect(
      report.checks.find((c) => c.name === "stack guard")?.counts.expectedFaults,
    ).toBeGreaterThan(0);
  });

  it("says a machine plugin has no suite, with exit status 2", async () => {
    const outcome = await conformance(["@allockit/x86-machine"]);
    expect(outcome.code).toBe(2);
    expect(outcome.stdout).toBe("");
    expect(outcome.stderr).toBe(
      "allockit conformance: @allockit/x86-machine is a machine plugin; there is no conformance suite for machine plugins (suites exist for heap, pmm, vmm)\n",
    );
  });

  it("reports a missing plugin, bad options and bad flags as one line with exit status 1", async () => {
    const missing = await conformance(["allockit-plugin-that-does-not-exist"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^allockit: EPLUGIN: plugin "allockit-plugin-that-does-not-exist" not found/,
    );

    const badOptions = await conformance(["list-heap", "--options", '{"arenaBytes":"big"}']);
    expect(badOptions.code).toBe(1);
    expect(badOptions.stderr).toMatch(/^allockit: EPLUGIN: .*options\.arenaBytes = "big"/);

    const notJson = await conformance(["list-heap", "--options", "{arenaBytes"]);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/^allockit: EINVAL: --options "\{arenaBytes" is not JSON/);

    const memoryOnPmm = await conformance(["buddy", "--memory", "machine"]);
    expect(memoryOnPmm.code).toBe(1);
    expect(memoryOnPmm.stderr).toBe(
      "allockit: EINVAL: --memory applies to heap plugins only; this is a pmm plugin\n",
    );

    const badRuns = await conformance(["list-heap", "--runs", "0"]);
    expect(badRuns.code).toBe(1);
    expect(badRuns.stderr).toContain("option '--runs <n>' argument '0' is invalid");
    for (const outcome of [missing, badOptions, notJson, memoryOnPmm]) {
      expect(outcome.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("replays the same model run for the same seed, including negative seeds as fast-check prints them", async () => {
    const first = await jsonReport(["list-heap", "--runs", "15", "--seed", "-123456"]);
    const second = await jsonReport(["list-heap", "--runs", "15", "--seed", "-123456"]);
    const counts = (r: ConformanceReport) => r.checks.find((c) => c.name === "model run")?.counts;
    expect(first.seed).toBe(-123456);
    expect(counts(first)).toEqual(counts(second));
  });
});
