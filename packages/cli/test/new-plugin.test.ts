import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkPackageName, pluginClassName } from "../src/scaffold.js";
import { allockitProcess, cleanEnv, repoRoot, runProcess } from "./cli-process.js";

// Scaffolds plugins with the built CLI into a directory outside the workspace whose
// node_modules links to the workspace's packages, then builds them with tsc and runs both
// `allockit conformance` and the scaffold's own vitest test on them. (third-party.test.ts does
// the same from packed tarballs, with no workspace links.)

let work: string;

/** The directory of a dependency of core, as the workspace installed it. */
function coreDependencyDir(name: string): string {
  return realpathSync(join(repoRoot, "packages", "core", "node_modules", name));
}

function link(name: string, target: string): void {
  const path = join(work, "node_modules", name);
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path, "dir");
}

/** The environment for a nested vitest: none of this run's own vitest variables. */
function nestedEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = cleanEnv(extra);
  for (const key of Object.keys(env)) if (key.startsWith("VITEST")) delete env[key];
  delete env.NODE_OPTIONS;
  return env;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "allockit-new-plugin-"));
  for (const name of ["core", "conformance", "vmm", "x86-machine", "pmm-stack", "cli"]) {
    link(`@allockit/${name}`, join(repoRoot, "packages", name));
  }
  for (const name of ["zod", "tsyringe", "reflect-metadata"]) link(name, coreDependencyDir(name));
  for (const name of ["typescript", "vitest", "@types/node"]) {
    link(name, join(repoRoot, "node_modules", name));
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const scaffold = (args: readonly string[]) =>
  allockitProcess(["new-plugin", ...args], { cwd: work, env: cleanEnv() });

describe("allockit new-plugin: names and refusals", () => {
  it("derives class names and accepts only npm package names", () => {
    expect(pluginClassName("my-heap", "heap")).toBe("MyHeap");
    expect(pluginClassName("@me/fast_bitmap", "pmm")).toBe("FastBitmapPmm");
    expect(pluginClassName("9lives", "vmm")).toBe("Plugin9livesVmm");
    expect(checkPackageName("@scope/a.b-c")).toBe("@scope/a.b-c");
    for (const bad of ["My-Heap", "", ".hidden", "_x", "a b", "@/x", "x/y", "a".repeat(215)]) {
      expect(() => checkPackageName(bad), bad).toThrow(/is not a valid npm package name/);
    }
  });

  it("refuses a bad name, a bad kind and a non-empty directory, as one line with exit 1", async () => {
    const badName = await scaffold(["Bad_Name", "--kind", "heap"]);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/^allockit: EINVAL: "Bad_Name" is not a valid npm package name/);

    const badKind = await scaffold(["ok-name", "--kind", "machine"]);
    expect(badKind.code).toBe(1);
    expect(badKind.stderr).toContain(
      "argument 'machine' is invalid. Allowed choices are heap, pmm, vmm",
    );

    const noKind = await scaffold(["ok-name"]);
    expect(noKind.code).toBe(1);
    expect(noKind.stderr).toContain("required option '--kind <kind>' not specified");

    mkdirSync(join(work, "taken"));
    writeFileSync(join(work, "taken", "keep.txt"), "mine");
    const taken = await scaffold(["taken", "--kind", "heap"]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^allockit: EINVAL: .*taken already exists and is not empty/);
    expect(readFileSync(join(work, "taken", "keep.txt"), "utf8")).toBe("mine");
    expect(existsSync(join(work, "ok-name"))).toBe(false);
  });

  it("writes into --dir, an empty directory, with the unscoped name", async () => {
    mkdirSync(join(work, "plugins", "scoped-heap"), { recursive: true });
    const outcome = await scaffold(["@me/scoped-heap", "--kind", "heap", "--dir", "plugins"]);
    expect(outcome.code).toBe(0);
    const pkg = JSON.parse(
      readFileSync(join(work, "plugins", "scoped-heap", "package.json"), "utf8"),
    ) as {
      name: string;
    };
    expect(pkg.name).toBe("@me/scoped-heap");
    expect(readFileSync(join(work, "plugins", "scoped-heap", "src", "index.ts"), "utf8")).toContain(
      'name: "@me/scoped-heap"',
    );
  });
});

const KINDS = [
  { kind: "heap", className: "MyHeap", allocatorFile: "src/heap.ts", tests: 16 },
  { kind: "pmm", className: "MyPmm", allocatorFile: "src/pmm.ts", tests: 8 },
  { kind: "vmm", className: "MyVmm", allocatorFile: "src/vmm.ts", tests: 14 },
] as const;

describe.each(KINDS)(
  "allockit new-plugin --kind $kind",
  ({ kind, className, allocatorFile, tests }) => {
    const name = `my-${kind}`;
    const dir = () => join(work, name);

    it("writes the package: manifest, options schema, allocator, README, conformance test", async () => {
      const outcome = await scaffold([name, "--kind", kind]);
      expect(outcome.stderr).toBe("");
      expect(outcome.code).toBe(0);
      expect(outcome.stdout).toContain(
        `allockit new-plugin: ${kind} plugin ${name} (${className}) in ${name}`,
      );
      const files = [
        ".gitignore",
        "README.md",
        "package.json",
        allocatorFile,
        "src/index.ts",
        "test/conformance.test.ts",
        "tsconfig.json",
        "vitest.config.ts",
      ];
      for (const file of files) {
        expect(existsSync(join(dir(), file)), file).toBe(true);
        expect(outcome.stdout).toContain(`  ${file}\n`);
      }
      const pkg: unknown = JSON.parse(readFileSync(join(dir(), "package.json"), "utf8"));
      expect(pkg).toMatchObject({
        name,
        type: "module",
        main: "./dist/index.js",
        scripts: { build: "tsc", test: "vitest run" },
        dependencies: { zod: "4.6.7", tsyringe: "4.10.0", "reflect-metadata": "0.2.2" },
        peerDependencies: { "@allockit/core": "^0.1.0" },
        devDependencies: {
          "@allockit/conformance": "^0.1.0",
          typescript: "6.0.3",
          vitest: "4.1.12",
        },
      });
      const tsconfig = JSON.parse(readFileSync(join(dir(), "tsconfig.json"), "utf8")) as {
        compilerOptions: unknown;
      };
      expect(tsconfig.compilerOptions).toMatchObject({
        module: "NodeNext",
        strict: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        types: ["node"],
      });
      expect(readFileSync(join(dir(), "vitest.config.ts"), "utf8")).toContain(
        "oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } }",
      );
      const index = readFileSync(join(dir(), "src/index.ts"), "utf8");
      expect(index).toContain("definePlugin({");
      expect(index).toContain(`kind: "${kind}"`);
      expect(index).toMatch(/z\s*\.object\(/);
      expect(readFileSync(join(dir(), "test/conformance.test.ts"), "utf8")).toContain(
        `${kind}Conformance(`,
      );
      expect(readFileSync(join(dir(), "README.md"), "utf8")).toMatch(new RegExp(`^# ${name}\\n`));
    });

    it("builds with its own tsc", async () => {
      const tsc = join(work, "node_modules", "typescript", "bin", "tsc");
      const outcome = await runProcess(process.execPath, [tsc, "-p", "."], { cwd: dir() });
      expect(outcome.stdout + outcome.stderr).toBe("");
      expect(outcome.code).toBe(0);
      expect(existsSync(join(dir(), "dist", "index.js"))).toBe(true);
    }, 300_000);

    it("passes allockit conformance", async () => {
      const outcome = await allockitProcess(["conformance", `./${name}`, "--runs", "20"], {
        cwd: work,
        env: cleanEnv(),
        timeoutMs: 180_000,
      });
      expect(outcome.stderr).toBe("");
      expect(outcome.code).toBe(0);
      expect(outcome.stdout).toContain(
        `allockit conformance: ${name} (${kind} plugin, from ./${name})`,
      );
      expect(outcome.stdout).toMatch(
        /^\d checks: \d passed, 0 failed, 0 skipped in [\d.]+ s: passed$/m,
      );
    }, 300_000);

    it("passes its own vitest conformance test", async () => {
      const vitest = join(work, "node_modules", "vitest", "vitest.mjs");
      const outcome = await runProcess(process.execPath, [vitest, "run"], {
        cwd: dir(),
        env: nestedEnv({ ALLOCKIT_FUZZ_RUNS: "20", NO_COLOR: "1" }),
        timeoutMs: 240_000,
      });
      expect(outcome.code, outcome.stdout + outcome.stderr).toBe(0);
      expect(outcome.stdout).toMatch(new RegExp(`Tests\\s+${tests} passed \\(${tests}\\)`));
    }, 300_000);
  },
);
