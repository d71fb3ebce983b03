import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { AllocatorError } from "@allockit/core";
import { CLI_PACKAGE_DIR, CLI_VERSION } from "./package-info.js";

/** The kinds `allockit new-plugin` scaffolds (a machine plugin is not a thing to start from). */
export const SCAFFOLD_KINDS = ["heap", "pmm", "vmm"] as const;
export type ScaffoldKind = (typeof SCAFFOLD_KINDS)[number];

/** Versions a scaffolded package pins for its tools and libraries (those allockit uses). */
export const SCAFFOLD_VERSIONS = {
  "@types/node": "20.19.43",
  "reflect-metadata": "0.2.2",
  tsyringe: "4.10.0",
  typescript: "6.0.3",
  vitest: "4.1.12",
  zod: "4.6.7",
} as const;

/** Where the template files live: `templates/` of this package (shipped in its tarball). */
export const TEMPLATES_DIR = join(CLI_PACKAGE_DIR, "templates");

export interface ScaffoldOptions {
  /** The npm package name, scoped or not. */
  name: string;
  kind: string;
  /** Parent directory (default: the current one); the package goes in DIR/<name without scope>. */
  dir?: string;
}

export interface ScaffoldResult {
  name: string;
  kind: ScaffoldKind;
  /** The package's directory. */
  directory: string;
  /** Files written, relative to `directory`, sorted. */
  files: string[];
  /** The plugin's main class (`MyHeap`, `FastPmm` ...). */
  className: string;
}

// npm's rules: lower case, at most 214 characters, no leading dot or underscore, URL-safe,
// optionally one @scope/ in front.
const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/** Throws EINVAL naming the value unless it is a valid npm package name. */
export function checkPackageName(name: string): string {
  if (
    typeof name !== "string" ||
    name.length === 0 ||
    name.length > 214 ||
    !PACKAGE_NAME.test(name)
  ) {
    throw new AllocatorError(
      "EINVAL",
      `${JSON.stringify(name)} is not a valid npm package name (lower case letters, digits, "-", ".", "_", "~", an optional @scope/, at most 214 characters)`,
      name,
    );
  }
  return name;
}

function checkKind(kind: string): ScaffoldKind {
  if (!(SCAFFOLD_KINDS as readonly string[]).includes(kind)) {
    throw new AllocatorError(
      "EINVAL",
      `--kind ${JSON.stringify(kind)} is not one of ${SCAFFOLD_KINDS.join(", ")}`,
      kind,
    );
  }
  return kind as ScaffoldKind;
}

/** `my-fast-heap` (kind heap) -> `MyFastHeap`; `buddy2` (kind pmm) -> `Buddy2Pmm`. */
export function pluginClassName(name: string, kind: ScaffoldKind): string {
  const bare = name.replace(/^@[^/]+\//, "");
  let pascal = bare
    .split(/[^a-zA-Z0-9]+/)
    .filter((part) => part !== "")
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join("");
  if (pascal === "" || /^[0-9]/.test(pascal)) pascal = `Plugin${pascal}`;
  const suffix = kind === "heap" ? "Heap" : kind === "pmm" ? "Pmm" : "Vmm";
  return pascal.toLowerCase().endsWith(suffix.toLowerCase())
    ? pascal.slice(0, -suffix.length) + suffix
    : pascal + suffix;
}

function templateFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".tmpl")) files.push(relative(root, path));
    }
  };
  walk(root);
  return files;
}

function fill(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole);
}

function packageJson(name: string, kind: ScaffoldKind): unknown {
  const allockit = `^${CLI_VERSION}`;
  const peers: Record<string, string> = { "@allockit/core": allockit };
  const dev: Record<string, string> = {
    "@allockit/cli": allockit,
    "@allockit/conformance": allockit,
    "@allockit/core": allockit,
    "@types/node": SCAFFOLD_VERSIONS["@types/node"],
    typescript: SCAFFOLD_VERSIONS.typescript,
    vitest: SCAFFOLD_VERSIONS.vitest,
  };
  if (kind === "vmm") {
    peers["@allockit/vmm"] = allockit;
    dev["@allockit/vmm"] = allockit;
    dev["@allockit/pmm-stack"] = allockit;
    dev["@allockit/x86-machine"] = allockit;
  }
  const sorted = (deps: Record<string, string>): Record<string, string> =>
    Object.fromEntries(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b)));
  return {
    name,
    version: "0.1.0",
    description: `allockit ${kind} plugin`,
    keywords: ["allockit", "allockit-plugin", `allockit-${kind}`],
    license: "MIT",
    type: "module",
    main: "./dist/index.js",
    types: "./dist/index.d.ts",
    exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } },
    files: ["dist", "README.md"],
    scripts: { build: "tsc", test: "vitest run", conformance: "allockit conformance ." },
    dependencies: {
      "reflect-metadata": SCAFFOLD_VERSIONS["reflect-metadata"],
      tsyringe: SCAFFOLD_VERSIONS.tsyringe,
      zod: SCAFFOLD_VERSIONS.zod,
    },
    peerDependencies: sorted(peers),
    devDependencies: sorted(dev),
  };
}

function isNonEmptyDirectory(path: string): boolean {
  if (!existsSync(path)) return false;
  if (!statSync(path).isDirectory()) return true;
  return readdirSync(path).length > 0;
}

/**
 * Writes a third-party plugin package: package.json, tsconfig.json, vitest.config.ts,
 * src/index.ts (the manifest and its zod options schema), the allocator (a page-run heap, a
 * bitmap PMM, or a VMM extending @allockit/vmm's X86Vmm), test/conformance.test.ts running
 * the suite for its kind, and a README. Refuses a bad name or kind and a non-empty directory
 * (EINVAL naming it).
 */
export function scaffoldPlugin(options: ScaffoldOptions): ScaffoldResult {
  const name = checkPackageName(options.name);
  const kind = checkKind(options.kind);
  const bare = name.replace(/^@[^/]+\//, "");
  const directory = resolve(options.dir ?? process.cwd(), bare);
  if (isNonEmptyDirectory(directory)) {
    throw new AllocatorError(
      "EINVAL",
      `${directory} already exists and is not empty; choose another name or --dir`,
      directory,
    );
  }
  const className = pluginClassName(name, kind);
  const values = {
    name,
    kind,
    shortName: bare,
    className,
    optionsName: `${className[0]!.toLowerCase()}${className.slice(1)}Options`,
  };
  const outputs = new Map<string, string>();
  for (const source of ["common", kind]) {
    const root = join(TEMPLATES_DIR, source);
    for (const file of templateFiles(root)) {
      let target = file.slice(0, -".tmpl".length);
      // npm drops files named .gitignore from tarballs, so the template goes without the dot.
      if (target === "gitignore") target = ".gitignore";
      outputs.set(target, fill(readFileSync(join(root, file), "utf8"), values));
    }
  }
  outputs.set("package.json", JSON.stringify(packageJson(name, kind), null, 2) + "\n");
  for (const [file, text] of outputs) {
    const path = join(directory, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return { name, kind, directory, className, files: [...outputs.keys()].sort() };
}
