import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CONFIG, FLAT_CONFIG } from "@allockit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunReport } from "../src/run.js";
import { DEFAULT_CONFIG_SOURCE } from "../src/system.js";
import { allockitProcess, builtBin, repoRoot, type ProcessOutcome } from "./cli-process.js";

// These tests run the built CLI as a user would: `npx tsc -b` must have run first.
const packageVersion = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

type Outcome = ProcessOutcome;

function allockit(args: readonly string[], cwd = repoRoot): Promise<Outcome> {
  return allockitProcess(args, { cwd });
}

async function runJson(args: readonly string[], cwd = repoRoot): Promise<RunReport> {
  const outcome = await allockit(["run", "--json", ...args], cwd);
  expect(outcome.stderr).toBe("");
  expect(outcome.code).toBe(0);
  return JSON.parse(outcome.stdout) as RunReport;
}

/** An error the user caused: exit 1, one line naming the problem, no stack trace. */
function expectUserError(outcome: Outcome, ...mentions: string[]): void {
  expect(outcome.code).toBe(1);
  expect(outcome.stdout).toBe("");
  expect(outcome.stderr).toMatch(/^allockit: E[A-Z]+: /);
  expect(outcome.stderr).not.toMatch(/\n\s+at /);
  for (const mention of mentions) expect(outcome.stderr).toContain(mention);
}

let configDir: string;

function writeConfig(name: string, config: unknown): string {
  const file = join(configDir, name);
  writeFileSync(file, typeof config === "string" ? config : JSON.stringify(config, null, 2));
  return file;
}

const smallSystem = {
  machine: { plugin: "@allockit/core/flat", options: { sizeMiB: 32 } },
  heap: { plugin: "@allockit/core/list-heap", options: { arenaBytes: 131072 } },
};

beforeAll(() => {
  if (!existsSync(builtBin))
    throw new Error(`${builtBin} is missing: build with \`npx tsc -b\` first`);
  configDir = mkdtempSync(join(tmpdir(), "allockit-cli-test-"));
});

afterAll(() => {
  rmSync(configDir, { recursive: true, force: true });
});

describe("allockit", () => {
  it("--help lists the commands and options", async () => {
    const outcome = await allockit(["--help"]);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain("Usage: allockit");
    expect(outcome.stdout).toMatch(/^\s+run \[options\]/m);
    expect(outcome.stdout).toContain("--version");

    const runHelp = await allockit(["run", "--help"]);
    expect(runHelp.code).toBe(0);
    for (const option of ["--config <file>", "--ops <n>", "--seed <n>", "--json"])
      expect(runHelp.stdout).toContain(option);
  });

  it("--version prints the package version", async () => {
    const outcome = await allockit(["--version"]);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout.trim()).toBe(packageVersion);
  });

  it("rejects an unknown command and a malformed number", async () => {
    const unknown = await allockit(["no-such-command"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no-such-command");

    const badOps = await allockit(["run", "--ops", "many"]);
    expect(badOps.code).toBe(1);
    expect(badOps.stderr).toContain("--ops");
    expect(badOps.stderr).toContain("many");
  });
});

describe("allockit run", () => {
  it("runs the default system and reports consistent figures as JSON", async () => {
    const report = await runJson(["--ops", "20000"]);
    expect(report.config).toBe(DEFAULT_CONFIG_SOURCE);
    expect(report.plugins.map((plugin) => plugin.specifier)).toEqual([
      DEFAULT_CONFIG.machine!.plugin,
      DEFAULT_CONFIG.pmm!.plugin,
      DEFAULT_CONFIG.vmm!.plugin,
      DEFAULT_CONFIG.heap.plugin,
    ]);

    const ops = report.operations;
    expect(ops.total).toBe(20_000);
    expect(ops.allocs + ops.frees + ops.reallocs + ops.failures).toBe(ops.total);
    expect(ops.allocs).toBeGreaterThan(0);
    expect(ops.frees).toBeGreaterThan(0);
    expect(ops.reallocs).toBeGreaterThan(0);
    expect(report.peakLiveBytes).toBeGreaterThan(0);
    expect(report.footprintBytes).toBeGreaterThanOrEqual(report.peakLiveBytes);
    expect(report.footprintBytes % report.pageSize).toBe(0);
    expect(report.fragmentation).toBeGreaterThanOrEqual(1);
    expect(report.fragmentation).toBeCloseTo(report.footprintBytes / report.peakLiveBytes, 2);
    expect(report.seconds).toBeGreaterThan(0);
    expect(report.opsPerSecond).toBeGreaterThan(0);

    // Everything was freed before the check, and the heap agrees with the workload (its
    // operations, and the page-sized buffers allocated beside them).
    const events = report.events;
    expect(report.check).toBe("passed");
    expect(report.heap.liveBlocks).toBe(0);
    expect(report.heap.allocs).toBe(ops.allocs + ops.movedReallocs + events.pageBuffers);
    expect(report.heap.frees).toBe(
      ops.frees + ops.movedReallocs + report.releasedAtEnd + events.pageBuffers,
    );
    expect(report.heap.failedAllocs).toBe(ops.failures + events.pageBufferFailures);

    // The kernel-like events beside the heap: page buffers, DMA below 16 MiB, processes.
    expect(events.pageBuffers).toBeGreaterThan(0);
    expect(events.dmaSupported).toBe(true);
    expect(events.dmaBuffers).toBeGreaterThan(0);
    expect(events.spacesCreated).toBeGreaterThan(0);
    expect(events.spacesDestroyed).toBe(events.spacesCreated);

    // The machine: boot stages, PMM zones, VMM faults (the processes' pages), TLB.
    const machine = report.machine!;
    expect(machine.boot.map((stage) => stage.name)).toContain("pmm");
    expect(machine.zones.DMA.totalFrames).toBeGreaterThan(0);
    expect(machine.zones.DMA.freeFrames).toBeLessThanOrEqual(machine.zones.DMA.totalFrames);
    expect(machine.vmm.demandZeroFaults).toBeGreaterThanOrEqual(events.userPagesTouched);
    expect(machine.tlb.hitRate).toBeGreaterThan(0.5);
    expect(machine.tlb.hitRate).toBeLessThanOrEqual(1);
  });

  it("runs a flat system too: no machine summary, no DMA, no processes", async () => {
    const file = writeConfig("flat-default.json", FLAT_CONFIG);
    const report = await runJson(["--config", file, "--ops", "5000"]);
    expect(report.machine).toBeUndefined();
    expect(report.events.pageBuffers).toBeGreaterThan(0);
    expect(report.events.dmaSupported).toBe(true);
    expect(report.events.spacesCreated).toBe(0);
  });

  it("is deterministic for a seed", async () => {
    const [first, again, other] = await Promise.all([
      runJson(["--ops", "10000", "--seed", "42"]),
      runJson(["--ops", "10000", "--seed", "42"]),
      runJson(["--ops", "10000", "--seed", "43"]),
    ]);
    expect(again.operations).toEqual(first.operations);
    expect(again.footprintBytes).toBe(first.footprintBytes);
    expect(again.heap).toEqual(first.heap);
    expect(other.operations).not.toEqual(first.operations);
  });

  it("prints a readable report by default", async () => {
    const outcome = await allockit(["run", "--ops", "5000"]);
    expect(outcome.code).toBe(0);
    for (const word of [
      "operations",
      "peak live",
      "footprint",
      "fragmentation",
      "ops/s",
      "heap check",
      "page-sized buffers",
      "DMA buffers below 16 MiB",
      "processes",
    ]) {
      expect(outcome.stdout).toContain(word);
    }
    expect(outcome.stdout).toMatch(/^boot +\d+ stages in [\d.]+ ms/m);
    expect(outcome.stdout).toMatch(/^pmm frames +DMA [\d,]+ of [\d,]+ free, DMA32/m);
    expect(outcome.stdout).toMatch(
      /^vmm +\d+ space\(s\), \d+ kernel regions; faults: [\d,]+ demand-zero/m,
    );
    expect(outcome.stdout).toMatch(/^tlb +[\d.]+ % hits/m);
    for (const section of ["machine", "pmm", "vmm", "heap"] as const)
      expect(outcome.stdout).toContain(DEFAULT_CONFIG[section]!.plugin);
  });

  it("composes the system of a --config file", async () => {
    const file = writeConfig("small.json", smallSystem);
    const report = await runJson(["--config", file, "--ops", "10000"]);
    expect(report.config).toBe(file);
    expect(report.plugins).toMatchObject([
      {
        section: "machine",
        specifier: smallSystem.machine.plugin,
        options: smallSystem.machine.options,
      },
      { section: "heap", specifier: smallSystem.heap.plugin, options: smallSystem.heap.options },
    ]);
    expect(report.operations.total).toBe(10_000);

    const text = await allockit(["run", "--config", file, "--ops", "2000"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(smallSystem.heap.plugin);
    expect(text.stdout).toContain(`arenaBytes=${smallSystem.heap.options.arenaBytes}`);
    expect(text.stdout).toContain(`sizeMiB=${smallSystem.machine.options.sizeMiB}`);
  });

  it("finds the plugins it depends on when run from another directory", async () => {
    writeConfig("elsewhere.json", smallSystem);
    const report = await runJson(["--config", "elsewhere.json", "--ops", "2000"], configDir);
    expect(report.plugins.map((plugin) => plugin.specifier)).toEqual([
      smallSystem.machine.plugin,
      smallSystem.heap.plugin,
    ]);
  });

  it("counts out-of-memory as failures, not errors", async () => {
    const pageLimit = 150;
    const file = writeConfig("tight.json", {
      machine: { plugin: "@allockit/core/flat", options: { sizeMiB: 8, pageLimit } },
      heap: { plugin: "@allockit/core/list-heap" },
    });
    const report = await runJson(["--config", file, "--ops", "10000"]);
    expect(report.operations.failures).toBeGreaterThan(0);
    expect(report.footprintBytes).toBeLessThanOrEqual(pageLimit * report.pageSize);
    expect(report.check).toBe("passed");
  });

  it("names an unknown plugin", async () => {
    const plugin = "allockit-plugin-that-does-not-exist";
    const file = writeConfig("unknown-plugin.json", { heap: { plugin } });
    expectUserError(await allockit(["run", "--config", file]), "EPLUGIN", plugin);
  });

  it("names the file, plugin, field path and value of a wrong option type", async () => {
    const file = writeConfig("wrong-type.json", {
      machine: smallSystem.machine,
      heap: { plugin: smallSystem.heap.plugin, options: { arenaBytes: "lots" } },
    });
    expectUserError(
      await allockit(["run", "--config", file]),
      file,
      smallSystem.heap.plugin,
      "heap.options.arenaBytes",
      '"lots"',
    );
  });

  it("names the field of a config that is not a config", async () => {
    const file = writeConfig("not-a-config.json", {
      heap: { plugin: smallSystem.heap.plugin },
      pmmm: {},
    });
    expectUserError(await allockit(["run", "--config", file]), "ECONFIG", file, "pmmm");
  });

  it("reports unreadable and malformed config files", async () => {
    const missing = join(configDir, "missing.json");
    expectUserError(await allockit(["run", "--config", missing]), "ECONFIG", missing);
    const malformed = writeConfig("malformed.json", '{ "heap": ');
    expectUserError(await allockit(["run", "--config", malformed]), "ECONFIG", malformed, "JSON");
  });
});

describe("allockit schema", () => {
  it("prints a JSON Schema that names every config section", async () => {
    const outcome = await allockit(["schema"]);
    expect(outcome.code).toBe(0);
    const schema = JSON.parse(outcome.stdout) as {
      $schema: string;
      properties: Record<string, unknown>;
    };
    expect(schema.$schema).toContain("2020-12");
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["machine", "pmm", "vmm", "heap"]),
    );
  });

  it("writes it to a file with --out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "allockit-schema-"));
    try {
      const file = join(dir, "allockit.schema.json");
      expect((await allockit(["schema", "--out", file])).code).toBe(0);
      expect(JSON.parse(readFileSync(file, "utf8"))).toHaveProperty("properties.heap");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
