import "reflect-metadata";
import { resolve } from "node:path";
import { container as rootContainer, type DependencyContainer } from "tsyringe";
import {
  AllocatorError,
  MiB,
  TOKENS,
  bootSystem,
  loadPlugin,
  parsePluginOptions,
  resolveToken,
  type Heap,
  type LoadedPlugin,
  type PageSource,
} from "@allockit/core";
import {
  flatHeapFactory,
  isConformanceViolation,
  resolveHeapOptions,
  resolvePmmOptions,
  resolveVmmOptions,
  vmmHeapFactory,
  type HeapFactory,
  type PmmFactory,
  type VmmFactory,
} from "@allockit/conformance/run";
import { BuddyPmm } from "@allockit/pmm-buddy";
import { bootMachine } from "@allockit/vmm";
import { Machine } from "@allockit/x86-machine";
import { PMM_SHORT_NAMES } from "./boot.js";
import { heapChecks, pmmChecks, vmmChecks, type ConformanceCheck } from "./conformance-checks.js";
import {
  HEAP_SHORT_NAMES,
  MACHINE_DEFAULTS,
  MEMORY_KINDS,
  type MemoryKind,
} from "./heap-system.js";
import { CLI_PACKAGE_DIR } from "./package-info.js";

/** The plugin kinds that have a conformance suite. */
export const CONFORMANCE_KINDS = ["heap", "pmm", "vmm"] as const;
export type ConformanceKind = (typeof CONFORMANCE_KINDS)[number];

/** RAM of the machine each VMM check boots: small, since the suite boots one per sequence. */
export const VMM_MACHINE_MIB = 32;
/** CPUs of that machine: two, so that a missing TLB shootdown shows. */
export const VMM_MACHINE_CPUS = 2;

export type CheckStatus = "passed" | "failed" | "skipped";

/** One check of a suite as it ran. */
export interface ConformanceCheckResult {
  /** Short name ("alignment sweep", "model run" ...). */
  name: string;
  /** What the check verifies, in a sentence. */
  description: string;
  status: CheckStatus;
  seconds: number;
  /** What it did, one line ("212 cases", "200 sequences, 5,120 steps ..."). */
  summary: string;
  /** The figures behind the summary. */
  counts: Record<string, number>;
  /** Why it was skipped, or the violation (or error) that failed it. */
  message?: string;
}

/** Everything `allockit conformance` found. */
export interface ConformanceReport {
  /** The manifest's name. */
  plugin: string;
  /** What it was asked for by (a package name or a path). */
  specifier: string;
  /** The file the plugin was imported from. */
  file: string;
  kind: ConformanceKind;
  description?: string;
  /** The plugin's options after its schema filled in defaults. */
  options: unknown;
  /** Where the heap ran (heap plugins only). */
  memory?: MemoryKind;
  /** Random sequences of the model-based check, and the seed that replays them. */
  numRuns: number;
  seed: number;
  checks: ConformanceCheckResult[];
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
  /** True when no check failed. */
  ok: boolean;
}

export interface ConformanceFlags {
  /** A package name, a path, or a first-party short name (heap-slab, buddy ...). */
  plugin: string;
  /** Random sequences of the model run (default: the suite's, raised by ALLOCKIT_FUZZ_RUNS). */
  runs?: number;
  /** Seed of every random choice (default: ALLOCKIT_FUZZ_SEED, else a fresh one). */
  seed?: number;
  /** Heap plugins: `flat` (default) or `machine`. */
  memory?: string;
  /** The plugin's options (checked by its schema); default: its schema's defaults. */
  options?: unknown;
  /** Called before each check and once at the end (done = total). */
  onProgress?: (done: number, total: number, doing: string) => void;
}

/** A plugin whose kind has no suite (a machine): what to tell the user. */
export class NoConformanceSuite extends Error {
  constructor(
    readonly plugin: string,
    readonly kind: string,
  ) {
    super(
      `${plugin} is a ${kind} plugin; there is no conformance suite for ${kind} plugins (suites exist for ${CONFORMANCE_KINDS.join(", ")})`,
    );
    this.name = "NoConformanceSuite";
  }
}

/** Where plugins resolve from: the current directory, then this package (as `run` does). */
function resolveFrom(): string[] {
  return [...new Set([resolve(process.cwd()), resolve(CLI_PACKAGE_DIR)])];
}

function specifierFor(name: string): string {
  return HEAP_SHORT_NAMES[name] ?? PMM_SHORT_NAMES[name] ?? name;
}

/** A heap plugin registered in `container` over `source`: a fresh registration per heap. */
interface HeapRegistration {
  plugin: LoadedPlugin;
  options: unknown;
  /** The heap plugin a wrapping heap wraps, with its options. */
  wrapped?: { plugin: LoadedPlugin; options: unknown };
}

async function heapRegistration(plugin: LoadedPlugin, options: unknown): Promise<HeapRegistration> {
  const inner = plugin.manifest.wraps?.(options);
  if (inner === undefined) return { plugin, options };
  const wrappedPlugin = await loadPlugin(specifierFor(inner.plugin), {
    resolveFrom: resolveFrom(),
  });
  if (wrappedPlugin.manifest.kind !== "heap") {
    throw new AllocatorError(
      "EPLUGIN",
      `plugin ${JSON.stringify(plugin.manifest.name)} wraps ${JSON.stringify(inner.plugin)}, a ${wrappedPlugin.manifest.kind} plugin, not a heap plugin`,
      inner.plugin,
    );
  }
  return {
    plugin,
    options,
    wrapped: {
      plugin: wrappedPlugin,
      options: parsePluginOptions(wrappedPlugin, inner.options, "options.wrapped"),
    },
  };
}

/**
 * Builds the heap exactly as composition would: the manifest's `register` over a child of
 * `parent` in which TOKENS.PageSource is `source` (and TOKENS.Memory its memory).
 */
function registerHeap(
  registration: HeapRegistration,
  parent: DependencyContainer,
  source: PageSource,
): Heap {
  const child = parent.createChildContainer();
  child.register(TOKENS.PageSource, { useValue: source });
  child.register(TOKENS.Memory, { useValue: source.memory });
  if (registration.wrapped !== undefined) {
    const inner = child.createChildContainer();
    registration.wrapped.plugin.manifest.register(inner, registration.wrapped.options);
    child.register(TOKENS.WrappedHeap, { useValue: resolveToken(inner, TOKENS.Heap) });
  }
  registration.plugin.manifest.register(child, registration.options);
  return resolveToken(child, TOKENS.Heap);
}

function heapFactory(registration: HeapRegistration, memory: MemoryKind): HeapFactory {
  if (memory === "flat") {
    return flatHeapFactory((source) => registerHeap(registration, rootContainer, source));
  }
  // One booted machine for every heap, as the suite's own machine factory does; each heap gets
  // a fresh region of the kernel space and a fresh registration.
  let system: DependencyContainer | undefined;
  return vmmHeapFactory((source) => registerHeap(registration, system ?? rootContainer, source), {
    boot: () => {
      const booted = bootMachine({
        ramBytes: MACHINE_DEFAULTS.ramMiB * MiB,
        pmm: new BuddyPmm(),
        mode: MACHINE_DEFAULTS.mode,
      });
      system = rootContainer.createChildContainer();
      system.register(TOKENS.Machine, { useValue: booted.machine });
      system.register(TOKENS.PhysicalMemory, { useValue: booted.machine.memory });
      system.register(TOKENS.MemoryMap, { useValue: booted.machine.memoryMap });
      system.register(TOKENS.Pmm, { useValue: booted.pmm });
      system.register(TOKENS.Vmm, { useValue: booted.vmm });
      return booted.vmm;
    },
  });
}

function pmmFactory(plugin: LoadedPlugin, options: unknown): PmmFactory {
  return () => {
    const child = rootContainer.createChildContainer();
    plugin.manifest.register(child, options);
    return resolveToken(child, TOKENS.Pmm);
  };
}

function vmmFactory(plugin: LoadedPlugin, options: unknown): VmmFactory {
  return () => {
    const machine = new Machine({ ramBytes: VMM_MACHINE_MIB * MiB, cpus: VMM_MACHINE_CPUS });
    const pmm = new BuddyPmm();
    const child = rootContainer.createChildContainer();
    child.register(TOKENS.Machine, { useValue: machine });
    child.register(TOKENS.PhysicalMemory, { useValue: machine.memory });
    child.register(TOKENS.MemoryMap, { useValue: machine.memoryMap });
    child.register(TOKENS.Pmm, { useValue: pmm });
    plugin.manifest.register(child, options);
    const vmm = resolveToken(child, TOKENS.Vmm);
    bootSystem({ machine, memoryMap: machine.memoryMap, physical: machine.memory, pmm, vmm });
    return { machine, vmm, pmm };
  };
}

/** Options resolution throws RangeError on a bad ALLOCKIT_FUZZ_* variable: make it the user's. */
function settingsOf<T>(resolveOptions: () => T): T {
  try {
    return resolveOptions();
  } catch (error) {
    if (error instanceof RangeError) throw new AllocatorError("EINVAL", error.message, undefined);
    throw error;
  }
}

function describeFailure(error: unknown): string {
  if (isConformanceViolation(error)) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function runChecks(
  checks: readonly ConformanceCheck[],
  onProgress: ConformanceFlags["onProgress"],
): ConformanceCheckResult[] {
  const results: ConformanceCheckResult[] = [];
  for (const check of checks) {
    onProgress?.(results.length, checks.length, check.name);
    const started = performance.now();
    const result: ConformanceCheckResult = {
      name: check.name,
      description: check.description,
      status: "passed",
      seconds: 0,
      summary: "",
      counts: {},
    };
    try {
      const outcome = check.run();
      result.summary = outcome.summary;
      result.counts = outcome.counts;
      if (outcome.skipped !== undefined) {
        result.status = "skipped";
        result.message = outcome.skipped;
      }
    } catch (error) {
      // Each check builds its own fresh allocators, so the next one still means something.
      result.status = "failed";
      result.message = describeFailure(error);
    }
    result.seconds = (performance.now() - started) / 1000;
    results.push(result);
  }
  onProgress?.(checks.length, checks.length, "");
  return results;
}

function parseMemory(memory: string | undefined, kind: string): MemoryKind {
  if (memory === undefined) return "flat";
  if (kind !== "heap") {
    throw new AllocatorError(
      "EINVAL",
      `--memory applies to heap plugins only; this is a ${kind} plugin`,
      memory,
    );
  }
  if (!(MEMORY_KINDS as readonly string[]).includes(memory)) {
    throw new AllocatorError(
      "EINVAL",
      `--memory ${JSON.stringify(memory)} is not one of ${MEMORY_KINDS.join(", ")}`,
      memory,
    );
  }
  return memory as MemoryKind;
}

/**
 * Loads a plugin (by package name, path or first-party short name; from the current directory,
 * then the CLI's own dependencies), checks its manifest and options, and runs the conformance
 * suite of its kind: every check, each on fresh allocators built through the manifest's
 * `register`. A failed check is reported, not thrown. A plugin that cannot be loaded, bad
 * options or bad flags throw an AllocatorError; a machine plugin throws {@link NoConformanceSuite}.
 */
export async function runPluginConformance(flags: ConformanceFlags): Promise<ConformanceReport> {
  const started = performance.now();
  const specifier = specifierFor(flags.plugin);
  const plugin = await loadPlugin(specifier, { resolveFrom: resolveFrom() });
  const kind = plugin.manifest.kind;
  if (!(CONFORMANCE_KINDS as readonly string[]).includes(kind)) {
    throw new NoConformanceSuite(plugin.manifest.name, kind);
  }
  const memory = parseMemory(flags.memory, kind);
  const options = parsePluginOptions(plugin, flags.options, "options");
  const asked = {
    ...(flags.runs === undefined ? {} : { numRuns: flags.runs }),
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
  };
  let checks: ConformanceCheck[];
  let numRuns: number;
  let seed: number;
  if (kind === "heap") {
    ({ numRuns, seed } = settingsOf(() => resolveHeapOptions(asked)));
    const factory = heapFactory(await heapRegistration(plugin, options), memory);
    checks = heapChecks(factory, { numRuns, seed });
  } else if (kind === "pmm") {
    ({ numRuns, seed } = settingsOf(() => resolvePmmOptions(asked)));
    checks = pmmChecks(pmmFactory(plugin, options), { numRuns, seed });
  } else {
    ({ numRuns, seed } = settingsOf(() => resolveVmmOptions(asked)));
    checks = vmmChecks(vmmFactory(plugin, options), { numRuns, seed });
  }
  const results = runChecks(checks, flags.onProgress);
  const count = (status: CheckStatus): number => results.filter((r) => r.status === status).length;
  const report: ConformanceReport = {
    plugin: plugin.manifest.name,
    specifier,
    file: plugin.file,
    kind: kind as ConformanceKind,
    options,
    numRuns,
    seed,
    checks: results,
    passed: count("passed"),
    failed: count("failed"),
    skipped: count("skipped"),
    seconds: (performance.now() - started) / 1000,
    ok: count("failed") === 0,
  };
  if (plugin.manifest.description !== undefined) report.description = plugin.manifest.description;
  if (kind === "heap") report.memory = memory;
  return report;
}
