import type { DependencyContainer } from "tsyringe";
import type { z } from "zod";

/** The plugin API version this core speaks. A manifest with another version is refused. */
export const API_VERSION = 1;

/** The layer a plugin fills. */
export type PluginKind = "machine" | "pmm" | "vmm" | "heap";
export const PLUGIN_KINDS: readonly PluginKind[] = ["machine", "pmm", "vmm", "heap"];

/**
 * What a plugin package exports by default. `register` puts the plugin's implementations into
 * the container under the {@link TOKENS}, using the options already validated by `options`.
 */
export interface PluginManifest<Schema extends z.ZodType = z.ZodType> {
  apiVersion: number;
  /** The plugin's name, usually its package name. */
  name: string;
  kind: PluginKind;
  /** One line on what it is. */
  description?: string;
  /** zod schema of the plugin's options; its defaults fill what the config leaves out. */
  options: Schema;
  register(container: DependencyContainer, options: z.output<Schema>): void;
  /**
   * Optional, for a heap that wraps another (a sampling debug heap, a statistics heap): the
   * heap plugin to wrap, read from this plugin's options, or undefined for none. compose loads
   * it through the same path as any plugin, lets it register in a child container, and
   * registers the heap it builds under {@link TOKENS}.WrappedHeap before calling `register`.
   */
  wraps?(options: z.output<Schema>): WrappedPluginSection | undefined;
}

/** The plugin a wrapping heap wraps, as a config section names it. */
export interface WrappedPluginSection {
  plugin: string;
  options?: Record<string, unknown>;
}

/** Declares a plugin manifest (a typed identity function, so `register` sees typed options). */
export function definePlugin<Schema extends z.ZodType>(
  manifest: PluginManifest<Schema>,
): PluginManifest<Schema> {
  return manifest;
}

/**
 * Lists what keeps `value` from being a manifest (empty when it is one). The check is
 * structural, so a manifest built against another copy of core or zod still passes.
 */
export function manifestProblems(value: unknown): string[] {
  if (typeof value !== "object" || value === null)
    return [
      `the default export is ${value === null ? "null" : typeof value}, not a manifest object`,
    ];
  const m = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof m.apiVersion !== "number") problems.push("apiVersion is missing or not a number");
  if (typeof m.name !== "string" || m.name.length === 0)
    problems.push("name is missing or not a string");
  if (typeof m.kind !== "string" || !(PLUGIN_KINDS as readonly string[]).includes(m.kind)) {
    problems.push(`kind ${JSON.stringify(m.kind)} is not one of ${PLUGIN_KINDS.join(", ")}`);
  }
  const options = m.options as { safeParse?: unknown } | undefined;
  if (typeof options !== "object" || options === null || typeof options.safeParse !== "function") {
    problems.push("options is not a zod schema");
  }
  if (typeof m.register !== "function") problems.push("register is not a function");
  if (m.wraps !== undefined && typeof m.wraps !== "function")
    problems.push("wraps is present but not a function");
  return problems;
}
