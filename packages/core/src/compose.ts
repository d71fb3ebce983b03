import "reflect-metadata";
import {
  instanceCachingFactory,
  container as rootContainer,
  type DependencyContainer,
} from "tsyringe";
import { CONFIG_SECTIONS, parseConfig, type AllockitConfig, type ConfigSection } from "./config.js";
import type { Heap } from "./contracts/heap.js";
import type { Memory } from "./contracts/memory.js";
import type { PageSource } from "./contracts/page-source.js";
import type { PhysicalMemoryManager } from "./contracts/pmm.js";
import type { VirtualMemoryManager } from "./contracts/vmm.js";
import { AllocatorError } from "./errors.js";
import {
  loadPlugin,
  parsePluginOptions,
  type LoadedPlugin,
  type PluginLoadOptions,
} from "./loader.js";
import type { WrappedPluginSection } from "./plugin.js";
import { TOKENS, resolveToken, tryResolveToken } from "./tokens.js";
import { bootSystem, type BootReport } from "./boot.js";

export interface ComposeOptions extends PluginLoadOptions {
  /** Where the config came from, for error messages. */
  source?: string;
  /** Container to make the child from (default: tsyringe's root container). */
  parent?: DependencyContainer;
}

/** A composed system: the container and the contracts resolved from it. */
export interface ComposedSystem {
  config: AllockitConfig;
  container: DependencyContainer;
  /** The plugin loaded for each configured section. */
  plugins: Partial<Record<ConfigSection, LoadedPlugin>>;
  /** For a section whose plugin wraps another (PluginManifest.wraps): the wrapped plugin. */
  wrapped: Partial<Record<ConfigSection, LoadedPlugin>>;
  heap: Heap;
  memory: Memory;
  pageSource: PageSource;
  pmm: PhysicalMemoryManager | undefined;
  vmm: VirtualMemoryManager | undefined;
  machine: unknown;
  /** What booting did, when the system has a PMM (and a VMM). */
  report: BootReport | undefined;
}

/**
 * Builds a system from a config: validates it, loads each section's plugin, validates its
 * options, and lets it register into a fresh child container, lower layers first. Every plugin,
 * first-party or not, takes this one path.
 */
export async function compose(
  input: unknown,
  options: ComposeOptions = {},
): Promise<ComposedSystem> {
  const config = parseConfig(input, options.source);
  const container = (options.parent ?? rootContainer).createChildContainer();
  const plugins: Partial<Record<ConfigSection, LoadedPlugin>> = {};
  const wrapped: Partial<Record<ConfigSection, LoadedPlugin>> = {};
  for (const section of CONFIG_SECTIONS) {
    const entry = config[section];
    if (entry === undefined) continue;
    const plugin = await loadPlugin(entry.plugin, options);
    if (plugin.manifest.kind !== section) {
      throw new AllocatorError(
        "ECONFIG",
        `${options.source ?? "config"}: ${section}.plugin ${JSON.stringify(entry.plugin)} is a ${plugin.manifest.kind} plugin, not a ${section} plugin`,
        entry.plugin,
      );
    }
    const pluginOptions = parsePluginOptions(
      plugin,
      entry.options,
      `${section}.options`,
      options.source,
    );
    const inner = plugin.manifest.wraps?.(pluginOptions);
    if (inner !== undefined) {
      wrapped[section] = await registerWrapped(container, section, inner, options);
    }
    plugin.manifest.register(container, pluginOptions);
    plugins[section] = plugin;
  }
  // A system with a PMM boots: firmware map, boot allocator, PMM, then the VMM's page tables,
  // paging and the kernel heap region, before anything resolves the heap's page source.
  const pmm = tryResolveToken(container, TOKENS.Pmm);
  const vmm = tryResolveToken(container, TOKENS.Vmm);
  let report: BootReport | undefined;
  if (pmm !== undefined || vmm !== undefined) {
    const memoryMap = tryResolveToken(container, TOKENS.MemoryMap);
    const physical = tryResolveToken(container, TOKENS.PhysicalMemory);
    if (memoryMap === undefined || physical === undefined) {
      throw new AllocatorError(
        "ECONFIG",
        `${options.source ?? "config"}: a PMM or VMM needs a machine plugin that registers a memory map and physical memory (such as @allockit/x86-machine)`,
        config.machine?.plugin,
      );
    }
    const info = tryResolveToken(container, TOKENS.BootInfo);
    report = bootSystem({
      machine: tryResolveToken(container, TOKENS.Machine),
      memoryMap,
      physical,
      ...(pmm === undefined ? {} : { pmm }),
      ...(vmm === undefined ? {} : { vmm }),
      ...(info?.kernelImage === undefined ? {} : { kernelImage: info.kernelImage }),
      ...(info?.modules === undefined ? {} : { modules: info.modules }),
    });
  }
  for (const [token, what] of [
    [TOKENS.Heap, "a heap"],
    [TOKENS.PageSource, "a page source (a VMM, or a flat-memory plugin)"],
  ] as const) {
    if (!container.isRegistered(token, true)) {
      throw new AllocatorError(
        "ECONFIG",
        `${options.source ?? "config"}: no plugin registered ${what}`,
        config,
      );
    }
  }
  const pageSource = resolveToken(container, TOKENS.PageSource);
  return {
    config,
    container,
    plugins,
    wrapped,
    heap: resolveToken(container, TOKENS.Heap),
    pageSource,
    memory: tryResolveToken(container, TOKENS.Memory) ?? pageSource.memory,
    pmm,
    vmm,
    machine: tryResolveToken(container, TOKENS.Machine),
    report,
  };
}

/**
 * Loads the heap plugin a wrapping heap names, registers it in a child container (where it
 * still resolves the page source and memory of the system) and makes its heap the parent's
 * TOKENS.WrappedHeap.
 */
async function registerWrapped(
  container: DependencyContainer,
  section: ConfigSection,
  inner: WrappedPluginSection,
  options: ComposeOptions,
): Promise<LoadedPlugin> {
  const where = `${options.source ?? "config"}: ${section}`;
  if (section !== "heap" || typeof inner.plugin !== "string") {
    throw new AllocatorError(
      "ECONFIG",
      `${where}: only a heap plugin can wrap another heap plugin, named by a string`,
      inner,
    );
  }
  const plugin = await loadPlugin(inner.plugin, options);
  if (plugin.manifest.kind !== "heap") {
    throw new AllocatorError(
      "ECONFIG",
      `${where} wraps ${JSON.stringify(inner.plugin)}, a ${plugin.manifest.kind} plugin, not a heap plugin`,
      inner.plugin,
    );
  }
  const innerOptions = parsePluginOptions(
    plugin,
    inner.options,
    `${section}.wrapped.options`,
    options.source,
  );
  if (plugin.manifest.wraps?.(innerOptions) !== undefined) {
    throw new AllocatorError(
      "ECONFIG",
      `${where} wraps ${JSON.stringify(inner.plugin)}, which wraps a heap itself; wrapping heaps do not nest`,
      inner.plugin,
    );
  }
  const child = container.createChildContainer();
  plugin.manifest.register(child, innerOptions);
  container.register(TOKENS.WrappedHeap, {
    useFactory: instanceCachingFactory(() => resolveToken(child, TOKENS.Heap)),
  });
  return plugin;
}

/**
 * Boots a system from a config: {@link compose} with the boot stages in between. The same
 * function; this name says what it does for a config with a machine, a PMM and a VMM.
 */
export const boot = compose;
