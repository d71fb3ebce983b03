import { createRequire } from "node:module";
import { isAbsolute, join, resolve as resolvePath } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AllocatorError, describeValue } from "./errors.js";
import { API_VERSION, manifestProblems, type PluginManifest } from "./plugin.js";

export interface PluginLoadOptions {
  /**
   * Directories to resolve package names and relative paths from, in order (the config file's
   * directory, the current directory, the CLI's own package...). Default: the current directory.
   */
  resolveFrom?: readonly string[];
}

/** A plugin as loaded: its manifest and where it came from. */
export interface LoadedPlugin {
  manifest: PluginManifest;
  /** The name or path it was asked for by. */
  specifier: string;
  /** The file it was imported from. */
  file: string;
}

function isPathSpecifier(specifier: string): boolean {
  return specifier.startsWith(".") || specifier.startsWith("file:") || isAbsolute(specifier);
}

/** The file a specifier resolves to, trying each base directory in turn. */
export function resolvePlugin(specifier: string, options: PluginLoadOptions = {}): string {
  const bases = [
    ...(options.resolveFrom ?? [process.cwd()]),
    fileURLToPath(new URL(".", import.meta.url)),
  ];
  if (specifier.startsWith("file:")) specifier = fileURLToPath(specifier);
  const tried: string[] = [];
  for (const base of isPathSpecifier(specifier) ? bases.slice(0, 1) : bases) {
    try {
      const target = isPathSpecifier(specifier) ? resolvePath(base, specifier) : specifier;
      return createRequire(join(resolvePath(base), "noop.js")).resolve(target);
    } catch {
      tried.push(resolvePath(base));
    }
  }
  throw new AllocatorError(
    "EPLUGIN",
    `plugin ${JSON.stringify(specifier)} not found (looked from ${tried.join(", ")}); is the package installed?`,
    specifier,
  );
}

/**
 * Imports a plugin by npm package name (with an optional subpath) or by path, and checks that
 * its default export is a manifest of this core's apiVersion. Every failure is an EPLUGIN error
 * naming the plugin. Third-party and first-party plugins take exactly this path.
 */
export async function loadPlugin(
  specifier: string,
  options: PluginLoadOptions = {},
): Promise<LoadedPlugin> {
  if (typeof specifier !== "string" || specifier.length === 0) {
    throw new AllocatorError(
      "EPLUGIN",
      `plugin name ${describeValue(specifier)} is not a package name or path`,
      specifier,
    );
  }
  const file = resolvePlugin(specifier, options);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new AllocatorError(
      "EPLUGIN",
      `plugin ${JSON.stringify(specifier)} failed to load from ${file}: ${(error as Error).message}`,
      specifier,
      { cause: error },
    );
  }
  const manifest = module.default;
  const problems = manifestProblems(manifest);
  if (problems.length > 0) {
    throw new AllocatorError(
      "EPLUGIN",
      `plugin ${JSON.stringify(specifier)} (${file}) does not export a plugin manifest by default: ${problems.join("; ")}`,
      specifier,
    );
  }
  const checked = manifest as PluginManifest;
  if (checked.apiVersion !== API_VERSION) {
    throw new AllocatorError(
      "EPLUGIN",
      `plugin ${JSON.stringify(specifier)} speaks apiVersion ${describeValue(checked.apiVersion)}, this core speaks ${API_VERSION}`,
      checked.apiVersion,
    );
  }
  return { manifest: checked, specifier, file };
}

/** The value at a path inside an object, for error messages. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Formats a path as `a.b[2].c`, with `prefix` in front. */
export function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let text = prefix;
  for (const key of path)
    text += typeof key === "number" ? `[${key}]` : `${text ? "." : ""}${String(key)}`;
  return text;
}

/** One problem found by a zod schema (the fields allockit reads). */
export interface SchemaIssue {
  path: PropertyKey[];
  message: string;
}

/** Describes a zod failure: each issue's path, the bad value there, and zod's words. */
export function describeIssues(
  prefix: string,
  input: unknown,
  issues: readonly SchemaIssue[],
): string {
  return issues
    .map((issue) => {
      const value = valueAt(input, issue.path);
      const shown =
        value === undefined && issue.path.length > 0 ? "missing" : `= ${describeValue(value)}`;
      return `${formatPath(prefix, issue.path) || "(root)"} ${shown}: ${issue.message}`;
    })
    .join("; ");
}

/**
 * Validates options against the plugin's schema and returns them with defaults filled in.
 * A failure is an EPLUGIN error naming the config's source (a file name, when given), the
 * plugin, the field path and the bad value.
 */
export function parsePluginOptions(
  plugin: LoadedPlugin,
  options: unknown,
  pathPrefix = "options",
  source?: string,
): unknown {
  const input = options ?? {};
  const result = (
    plugin.manifest.options as {
      safeParse(v: unknown): {
        success: boolean;
        data?: unknown;
        error?: { issues: SchemaIssue[] };
      };
    }
  ).safeParse(input);
  if (result.success) return result.data;
  throw new AllocatorError(
    "EPLUGIN",
    `${source === undefined ? "" : `${source}: `}plugin ${JSON.stringify(plugin.manifest.name)}: ${describeIssues(pathPrefix, input, result.error?.issues ?? [])}`,
    input,
  );
}
