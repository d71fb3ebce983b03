import { z } from "zod";
import { AllocatorError } from "./errors.js";
import { describeIssues } from "./loader.js";

/** A config section: which plugin fills the layer, and its options. */
export const pluginSectionSchema = z
  .object({
    plugin: z
      .string()
      .min(1)
      .describe("npm package name (optionally with a subpath) or path of the plugin"),
    options: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("the plugin's options, checked by its own schema"),
  })
  .strict();

/** The sections of a config, in composition order (lower layers first). */
export const CONFIG_SECTIONS = ["machine", "pmm", "vmm", "heap"] as const;
export type ConfigSection = (typeof CONFIG_SECTIONS)[number];

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    machine: pluginSectionSchema
      .optional()
      .describe("the machine (or flat memory) everything runs on"),
    pmm: pluginSectionSchema.optional().describe("the page-frame allocator"),
    vmm: pluginSectionSchema.optional().describe("the virtual memory manager"),
    heap: pluginSectionSchema.describe("the kernel heap"),
  })
  .strict()
  .describe("allockit system configuration");

export type PluginSection = z.infer<typeof pluginSectionSchema>;
export type AllockitConfig = z.infer<typeof configSchema>;

/** The system `allockit run` composes when no config is given. */
export const DEFAULT_CONFIG: AllockitConfig = {
  machine: { plugin: "@allockit/core/flat", options: { sizeMiB: 256 } },
  heap: { plugin: "@allockit/core/list-heap", options: {} },
};

/**
 * Validates a config object. A failure is an ECONFIG error naming the source (a file name, say),
 * the JSON path and the bad value.
 */
export function parseConfig(input: unknown, source = "config"): AllockitConfig {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  throw new AllocatorError(
    "ECONFIG",
    `${source}: ${describeIssues("", input, result.error.issues)}`,
    input,
  );
}

/** The config's JSON Schema (draft 2020-12), for editor completion and checking. */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { target: "draft-2020-12" }) as Record<string, unknown>;
}
