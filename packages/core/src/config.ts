import { z } from "zod";
import { AllocatorError } from "./errors.js";
import { describeIssues } from "./loader.js";
import type { PluginManifest } from "./plugin.js";

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

/**
 * The system `allockit run` composes when no config is given: a QEMU i440fx machine with
 * 128 MiB, the buddy PMM, the VMM in PAE mode with a direct map, and the slab heap.
 */
export const DEFAULT_CONFIG: AllockitConfig = {
  machine: { plugin: "@allockit/x86-machine", options: { preset: "qemu-i440fx-128m" } },
  pmm: { plugin: "@allockit/pmm-buddy", options: {} },
  vmm: { plugin: "@allockit/vmm", options: { mode: "pae", access: "direct-map" } },
  heap: { plugin: "@allockit/heap-slab", options: {} },
};

/** The smallest system: flat memory and core's ListHeap, no machine, no PMM, no VMM. */
export const FLAT_CONFIG: AllockitConfig = {
  machine: { plugin: "@allockit/core/flat", options: { sizeMiB: 256 } },
  heap: { plugin: "@allockit/core/list-heap", options: {} },
};

/** Where a heap runs to be compared: flat memory, or the booted machine (PMM, VMM, paging). */
export type HeapTestbed = "flat" | "machine";

/** The machine a heap testbed boots: long mode over a buddy PMM (it hands out DMA runs). */
export const HEAP_TESTBED_MACHINE = {
  ramMiB: 512,
  mode: "long",
  pmm: "@allockit/pmm-buddy",
} as const;

/** Flat memory of a heap testbed: room for a trace's peak with any heap's overhead. */
export const HEAP_TESTBED_FLAT_MIB = 512;

/**
 * The system that runs `heap` on flat memory or on the machine, as `allockit trace replay
 * --memory flat|machine` and the benchmarks' trace table compose it; the machine's RAM, mode and
 * PMM can be changed.
 */
export function heapTestbedConfig(
  heap: AllockitConfig["heap"],
  testbed: HeapTestbed,
  machine: { ramMiB?: number; mode?: string; pmm?: string } = {},
): AllockitConfig {
  if (testbed === "flat") {
    return {
      machine: { plugin: "@allockit/core/flat", options: { sizeMiB: HEAP_TESTBED_FLAT_MIB } },
      heap,
    };
  }
  return {
    machine: {
      plugin: "@allockit/x86-machine",
      options: { ramMiB: machine.ramMiB ?? HEAP_TESTBED_MACHINE.ramMiB },
    },
    pmm: { plugin: machine.pmm ?? HEAP_TESTBED_MACHINE.pmm, options: {} },
    vmm: { plugin: "@allockit/vmm", options: { mode: machine.mode ?? HEAP_TESTBED_MACHINE.mode } },
    heap,
  };
}

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

/** A plugin whose options schema the composed config schema includes. */
export interface SchemaPlugin {
  /** What a config names it by (`"plugin": ...`). */
  specifier: string;
  manifest: PluginManifest;
}

/**
 * The config's JSON Schema with every given plugin's own options schema: in the section of
 * its kind, `"plugin": "<specifier>"` selects that plugin's `options` schema (defaults, ranges,
 * enumerations and descriptions included), so an editor completes and checks the options of
 * first-party plugins; any other plugin name still validates with free-form options.
 */
export function composedConfigJsonSchema(
  plugins: readonly SchemaPlugin[],
): Record<string, unknown> {
  const schema = configJsonSchema() as {
    properties: Record<string, Record<string, unknown>>;
  };
  for (const section of CONFIG_SECTIONS) {
    const known = plugins.filter((plugin) => plugin.manifest.kind === section);
    if (known.length === 0) continue;
    const generic = schema.properties[section]!;
    const { description } = generic;
    const variants: Record<string, unknown>[] = known.map((plugin) => ({
      type: "object",
      properties: {
        plugin: { const: plugin.specifier, description: plugin.manifest.description },
        options: optionsSchema(plugin.manifest),
      },
      required: ["plugin"],
      additionalProperties: false,
    }));
    const others = {
      ...generic,
      properties: {
        ...(generic.properties as Record<string, unknown>),
        plugin: {
          type: "string",
          minLength: 1,
          not: { enum: known.map((plugin) => plugin.specifier) },
          description: "a third-party plugin: npm package name or path",
        },
      },
    };
    delete (others as Record<string, unknown>).description;
    schema.properties[section] = { description, anyOf: [...variants, others] };
  }
  return schema;
}

/** A plugin's options as JSON Schema, without its own `$schema` (it sits inside another). */
function optionsSchema(manifest: PluginManifest): Record<string, unknown> {
  const schema = z.toJSONSchema(manifest.options, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
  }) as Record<string, unknown>;
  delete schema.$schema;
  return schema;
}
