import { resolve } from "node:path";
import { loadPlugin, type SchemaPlugin } from "@allockit/core";
import { CLI_PACKAGE_DIR } from "./package-info.js";

/** The plugins that ship with allockit, by the name a config uses, lower layers first. */
export const FIRST_PARTY_PLUGINS: readonly string[] = [
  "@allockit/core/flat",
  "@allockit/x86-machine",
  "@allockit/pmm-stack",
  "@allockit/pmm-bitmap",
  "@allockit/pmm-buddy",
  "@allockit/vmm",
  "@allockit/core/list-heap",
  "@allockit/heap-slab",
  "@allockit/heap-bucket",
  "@allockit/heap-guard",
];

/** Loads every first-party plugin's manifest (from this package's dependencies). */
export async function loadFirstPartyPlugins(): Promise<SchemaPlugin[]> {
  const resolveFrom = [resolve(CLI_PACKAGE_DIR)];
  const plugins: SchemaPlugin[] = [];
  for (const specifier of FIRST_PARTY_PLUGINS) {
    const loaded = await loadPlugin(specifier, { resolveFrom });
    plugins.push({ specifier, manifest: loaded.manifest });
  }
  return plugins;
}
