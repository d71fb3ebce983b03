import "reflect-metadata";
import { container } from "tsyringe";
import { TOKENS, type PhysicalMemoryManager, type PluginManifest } from "@allockit/core";
import bitmap from "@allockit/pmm-bitmap";
import buddy from "@allockit/pmm-buddy";
import stack from "@allockit/pmm-stack";

/** The first-party PMMs, by the name the tables print. */
export const PMM_PLUGINS: ReadonlyArray<[string, PluginManifest]> = [
  ["pmm-stack", stack as unknown as PluginManifest],
  ["pmm-bitmap", bitmap as unknown as PluginManifest],
  ["pmm-buddy", buddy as unknown as PluginManifest],
];

/** A fresh, un-initialised PMM made through its plugin manifest, as a config would make it. */
export function makePmm(
  manifest: PluginManifest,
  options: Record<string, unknown> = {},
): PhysicalMemoryManager {
  const child = container.createChildContainer();
  manifest.register(child, (manifest.options as { parse(v: unknown): unknown }).parse(options));
  return child.resolve(TOKENS.Pmm);
}
