import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, runProcess, type ProcessOutcome } from "./cli-process.js";

// The path of a third-party plugin author, with nothing from the workspace but tarballs: every
// first-party package the CLI needs is packed with `pnpm pack` (which turns workspace:* into
// versions), installed with npm into a project outside the workspace (third-party packages
// such as zod and tsyringe come from the registry), and the packed CLI then scaffolds a heap
// plugin there, which is built with its own tsc, passes `allockit conformance` and boots by
// config.

interface WorkspacePackage {
  name: string;
  version: string;
  dir: string;
  dependencies: Record<string, string>;
}

function workspacePackages(): Map<string, WorkspacePackage> {
  const packages = new Map<string, WorkspacePackage>();
  for (const entry of readdirSync(join(repoRoot, "packages"))) {
    const file = join(repoRoot, "packages", entry, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as Omit<WorkspacePackage, "dir">;
    packages.set(pkg.name, {
      ...pkg,
      dependencies: pkg.dependencies ?? {},
      dir: join(repoRoot, "packages", entry),
    });
  }
  return packages;
}

/** The CLI and every workspace package it depends on, directly or not. */
function packagesToPack(all: Map<string, WorkspacePackage>): WorkspacePackage[] {
  const wanted = new Map<string, WorkspacePackage>();
  const visit = (name: string): void => {
    const pkg = all.get(name);
    if (pkg === undefined || wanted.has(name)) return;
    wanted.set(name, pkg);
    for (const [dep, spec] of Object.entries(pkg.dependencies)) {
      if (spec.startsWith("workspace:")) visit(dep);
    }
  };
  visit("@allockit/cli");
  visit("@allockit/conformance");
  return [...wanted.values()];
}

/** Runs `tasks` at most `limit` at a time. */
async function inBatches<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < tasks.length; i += limit) {
    results.push(...(await Promise.all(tasks.slice(i, i + limit).map((task) => task()))));
  }
  return results;
}

function explain(what: string, outcome: ProcessOutcome): string {
  return `${what} exited with ${outcome.code}\n--- stdout\n${outcome.stdout}\n--- stderr\n${outcome.stderr}`;
}

let project: string;
let packed: WorkspacePackage[];
const tarballOf = (pkg: WorkspacePackage): string =>
  `${pkg.name.replace(/^@/, "").replace("/", "-")}-${pkg.version}.tgz`;

const allockit = (args: readonly string[], timeoutMs = 120_000): Promise<ProcessOutcome> => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.ALLOCKIT_FUZZ_RUNS;
  delete env.ALLOCKIT_FUZZ_SEED;
  return runProcess(join(project, "node_modules", ".bin", "allockit"), args, {
    cwd: project,
    env,
    timeoutMs,
  });
};

async function buildPlugin(dir: string): Promise<void> {
  const tsc = join(project, "node_modules", "typescript", "bin", "tsc");
  const outcome = await runProcess(process.execPath, [tsc, "-p", dir], { cwd: project });
  expect(outcome.code, explain(`tsc -p ${dir}`, outcome)).toBe(0);
}

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), "allockit-third-party-"));
  const tarballs = join(project, "tarballs");
  mkdirSync(tarballs);
  packed = packagesToPack(workspacePackages());
  const packs = await inBatches(
    packed.map(
      (pkg) => () =>
        runProcess("pnpm", ["pack", "--pack-destination", tarballs], {
          cwd: pkg.dir,
          timeoutMs: 120_000,
        }),
    ),
    3,
  );
  packs.forEach((outcome, i) => {
    if (outcome.code !== 0) throw new Error(explain(`pnpm pack in ${packed[i]!.dir}`, outcome));
  });
  const dependencies: Record<string, string> = { typescript: "6.0.3", "@types/node": "20.19.43" };
  const overrides: Record<string, string> = {};
  for (const pkg of packed) {
    const file = join(tarballs, tarballOf(pkg));
    if (!existsSync(file)) throw new Error(`pnpm pack did not write ${file}`);
    dependencies[pkg.name] = `file:tarballs/${tarballOf(pkg)}`;
    // Each package's own dependency on another (a plain version after packing) must resolve to
    // the tarball too, never to a registry copy.
    overrides[pkg.name] = `$${pkg.name}`;
  }
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify(
      {
        name: "allockit-third-party-check",
        private: true,
        type: "module",
        dependencies,
        overrides,
      },
      null,
      2,
    ),
  );
  // --omit=peer: the conformance package's vitest peer is for plugin test files; the CLI runs
  // the suites without it.
  const install = await runProcess(
    "npm",
    ["install", "--no-audit", "--no-fund", "--omit=peer", "--loglevel=error"],
    { cwd: project, timeoutMs: 240_000 },
  );
  if (install.code !== 0) throw new Error(explain("npm install", install));
}, 300_000);

afterAll(() => {
  if (project !== undefined) rmSync(project, { recursive: true, force: true });
});

describe("a third-party plugin from tarballs, outside the workspace", () => {
  it("installs every first-party package from its tarball, as files, not links", () => {
    const lock = JSON.parse(readFileSync(join(project, "package-lock.json"), "utf8")) as {
      packages: Record<string, { resolved?: string; link?: boolean }>;
    };
    for (const pkg of packed) {
      const entry = lock.packages[`node_modules/${pkg.name}`];
      expect(entry?.resolved, pkg.name).toBe(`file:tarballs/${tarballOf(pkg)}`);
      expect(entry?.link, pkg.name).toBeUndefined();
      expect(lstatSync(join(project, "node_modules", pkg.name)).isSymbolicLink(), pkg.name).toBe(
        false,
      );
    }
    // No nested copies of @allockit packages from anywhere else.
    for (const key of Object.keys(lock.packages)) {
      if (/node_modules\/@allockit\/.*node_modules\/@allockit\//.test(key)) {
        throw new Error(`a nested copy was installed: ${key}`);
      }
    }
    expect(existsSync(join(project, "node_modules", "vitest"))).toBe(false);
  });

  it("scaffolds a heap plugin with the packed CLI, builds it and passes allockit conformance", async () => {
    const created = await allockit(["new-plugin", "my-heap", "--kind", "heap"]);
    expect(created.code, explain("allockit new-plugin", created)).toBe(0);
    await buildPlugin("my-heap");
    const junit = join(project, "my-heap-junit.xml");
    const outcome = await allockit(
      ["conformance", "./my-heap", "--runs", "100", "--seed", "11", "--junit", junit],
      180_000,
    );
    expect(outcome.code, explain("allockit conformance ./my-heap", outcome)).toBe(0);
    expect(outcome.stdout).toContain("allockit conformance: my-heap (heap plugin, from ./my-heap)");
    expect(outcome.stdout).toMatch(
      /^8 checks: 8 passed, 0 failed, 0 skipped in [\d.]+ s: passed$/m,
    );
    expect(readFileSync(junit, "utf8")).toContain('tests="8" failures="0"');

    const onMachine = await allockit(
      ["conformance", "./my-heap", "--runs", "30", "--memory", "machine"],
      180_000,
    );
    expect(onMachine.code, explain("allockit conformance --memory machine", onMachine)).toBe(0);
  }, 300_000);

  it("boots a config that names the plugin, and runs a workload on it", async () => {
    writeFileSync(
      join(project, "system.json"),
      JSON.stringify({
        machine: { plugin: "@allockit/x86-machine", options: { ramMiB: 64 } },
        pmm: { plugin: "@allockit/pmm-buddy" },
        vmm: { plugin: "@allockit/vmm" },
        heap: { plugin: "./my-heap", options: { defaultAlign: 32 } },
      }),
    );
    const outcome = await allockit(["run", "--config", "system.json", "--ops", "5000"]);
    expect(outcome.code, explain("allockit run --config system.json", outcome)).toBe(0);
    expect(outcome.stdout).toMatch(/^ {2}heap +my-heap +defaultAlign=32$/m);
    expect(outcome.stdout).toMatch(/^heap check +passed/m);

    writeFileSync(
      join(project, "bad-options.json"),
      JSON.stringify({
        machine: { plugin: "@allockit/core/flat" },
        heap: { plugin: "./my-heap", options: { defaultAlign: 24 } },
      }),
    );
    const refused = await allockit(["run", "--config", "bad-options.json"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^allockit: EPLUGIN: bad-options\.json: plugin "my-heap": heap\.options\.defaultAlign = 24 .*must be a power of two/,
    );
  });

  it("fails allockit conformance on a scaffolded heap with a bug, naming the violation", async () => {
    const created = await allockit(["new-plugin", "buggy-heap", "--kind", "heap"]);
    expect(created.code, explain("allockit new-plugin", created)).toBe(0);
    const source = join(project, "buggy-heap", "src", "heap.ts");
    const text = readFileSync(source, "utf8");
    const release = "this.source.freePages(block.run, block.pages);";
    expect(text).toContain(release);
    // The bug: freed blocks never give their pages back.
    writeFileSync(source, text.replace(release, ""));
    await buildPlugin("buggy-heap");
    const outcome = await allockit(
      ["conformance", "./buggy-heap", "--runs", "30", "--seed", "5"],
      180_000,
    );
    expect(outcome.code, explain("allockit conformance ./buggy-heap", outcome)).toBe(1);
    expect(outcome.stdout).toMatch(/^ {2}FAIL {2}release /m);
    expect(outcome.stdout).toMatch(/^ {8}\[[a-z-]+\] .*page/m);
    expect(outcome.stdout).toMatch(
      /^8 checks: \d passed, [1-8] failed, \d skipped in [\d.]+ s: FAILED$/m,
    );
  }, 300_000);
});
