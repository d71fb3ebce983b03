import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  AllocatorError,
  CONFIG_SECTIONS,
  DEFAULT_CONFIG,
  compose,
  parsePluginOptions,
  type ComposedSystem,
} from "@allockit/core";
import { CLI_PACKAGE_DIR } from "./package-info.js";

/** What a report says about the config's source when none was given. */
export const DEFAULT_CONFIG_SOURCE = "built-in default config";

/** A composed system and the config source it came from (a file name, or the default). */
export interface LoadedSystem extends ComposedSystem {
  source: string;
}

/** One configured layer as it runs: its plugin and the options after defaults were filled in. */
export interface PluginSummary {
  section: string;
  /** The plugin's manifest name. */
  name: string;
  /** What the config asked for (a package name or a path). */
  specifier: string;
  description?: string;
  options: unknown;
}

/** File names of config modules: JavaScript whose default export is the config object. */
const CONFIG_MODULE = /\.(mjs|cjs|js)$/;

/**
 * Reads a config file: JSON, or a JavaScript module (.js, .mjs, .cjs) whose default export is
 * the config object, for those who want comments and code in their configs. An unreadable file,
 * bad JSON or a module that fails to load is an ECONFIG error naming the file.
 */
export async function readConfigFile(file: string): Promise<unknown> {
  if (CONFIG_MODULE.test(file)) {
    let module: { default?: unknown };
    try {
      module = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown };
    } catch (error) {
      throw new AllocatorError(
        "ECONFIG",
        `cannot load config module ${file}: ${(error as Error).message}`,
        file,
        { cause: error },
      );
    }
    if (module.default === undefined) {
      throw new AllocatorError(
        "ECONFIG",
        `config module ${file} has no default export (export default { machine, pmm, vmm, heap })`,
        file,
      );
    }
    return module.default;
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new AllocatorError(
      "ECONFIG",
      `cannot read config file ${file}: ${(error as Error).message}`,
      file,
      { cause: error },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new AllocatorError(
      "ECONFIG",
      `${file} is not valid JSON: ${(error as Error).message}`,
      file,
      { cause: error },
    );
  }
}

/**
 * Composes a config object. Plugins resolve from the directory of `configFile` (when the config
 * came from one), then the current directory, then this package (so the plugins the CLI depends
 * on are found from anywhere). `source` names the config in error messages.
 */
export async function composeConfig(
  config: unknown,
  source: string,
  configFile?: string,
): Promise<LoadedSystem> {
  const cwd = resolve(process.cwd());
  const bases = configFile === undefined ? [cwd] : [dirname(resolve(configFile)), cwd];
  const system = await compose(config, {
    source,
    // A Set: the config's directory is often the cwd, and error messages list each place once.
    resolveFrom: [...new Set([...bases, resolve(CLI_PACKAGE_DIR)])],
  });
  return { ...system, source };
}

/**
 * Composes the system of a config file, or core's DEFAULT_CONFIG when `configFile` is
 * undefined (see {@link composeConfig} for where plugins resolve from).
 */
export async function composeSystem(configFile?: string): Promise<LoadedSystem> {
  if (configFile === undefined) return composeConfig(DEFAULT_CONFIG, DEFAULT_CONFIG_SOURCE);
  return composeConfig(await readConfigFile(configFile), configFile, configFile);
}

/** The plugins of a composed system, lower layers first. */
export function summarizePlugins(system: ComposedSystem): PluginSummary[] {
  const summaries: PluginSummary[] = [];
  for (const section of CONFIG_SECTIONS) {
    const plugin = system.plugins[section];
    const entry = system.config[section];
    if (plugin === undefined || entry === undefined) continue;
    const summary: PluginSummary = {
      section,
      name: plugin.manifest.name,
      specifier: plugin.specifier,
      // Already validated by compose; parsed again only to show the defaults it filled in.
      options: parsePluginOptions(plugin, entry.options, `${section}.options`),
    };
    if (plugin.manifest.description !== undefined)
      summary.description = plugin.manifest.description;
    summaries.push(summary);
  }
  return summaries;
}
