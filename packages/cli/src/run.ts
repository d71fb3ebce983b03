import { ZONES, formatSize, type HeapStats, type VmmStats, type Zone } from "@allockit/core";
import { injectBug, type GuardViolationKind } from "@allockit/heap-guard";
import { composeFileOrHeap, type HeapSystemFlags } from "./heap-system.js";
import { summarizePlugins, type LoadedSystem, type PluginSummary } from "./system.js";
import { SystemWorkload, type SystemEventCounters } from "./system-workload.js";
import type { WorkloadCounters } from "./workload.js";

export interface RunOptions {
  /** A JSON config file; core's DEFAULT_CONFIG when absent (and no `heap` is given). */
  configFile?: string;
  /** Instead of a config file: a heap by name on flat memory or on the machine. */
  heap?: HeapSystemFlags;
  /** Take the heap's dump() after the workload, while its blocks are still live. */
  dump?: boolean;
  /**
   * After the workload (its blocks still live), commit one bug of this kind on the guard heap
   * (heap-guard, or a sampling heap over it) and report what caught it.
   */
  inject?: GuardViolationKind;
  ops: number;
  seed: number;
  maxLiveBlocks?: number;
  onProgress?: (done: number, total: number) => void;
}

/** What `allockit run` reports; `--json` prints exactly this. */
export interface RunReport {
  /** The config file, or "built-in default config". */
  config: string;
  plugins: PluginSummary[];
  seed: number;
  operations: {
    /** allocs + frees + reallocs + failures */
    total: number;
    allocs: number;
    frees: number;
    reallocs: number;
    failures: number;
    alignedAllocs: number;
    zeroedAllocs: number;
    movedReallocs: number;
  };
  /** Most bytes the workload held at once (requested sizes). */
  peakLiveBytes: number;
  peakLiveBlocks: number;
  /** Most bytes the heap held from its page source(s) at once (its stats' peakFootprintBytes). */
  footprintBytes: number;
  pageSize: number;
  /** footprintBytes / peakLiveBytes; null when nothing was live. */
  fragmentation: number | null;
  seconds: number;
  opsPerSecond: number;
  /** Blocks still live after the last operation, freed before the heap check. */
  releasedAtEnd: number;
  /** heap.check() passed after the release (a failed check aborts the run instead). */
  check: "passed";
  /** The heap's own counters after the release. */
  heap: HeapStats;
  /** What the workload did beside the heap: page-sized and DMA buffers, processes. */
  events: SystemEventCounters;
  /** With a PMM and a VMM: boot stages, PMM zones, VMM and TLB figures after the workload. */
  machine?: MachineSummary;
  /**
   * With `dump`: the heap's dump() taken after the workload, before the release (null when
   * the heap has no dump()).
   */
  dump?: string | null;
  /** With `inject`: the bug committed and the guard heap's report of it. */
  injected?: InjectedBug;
}

/** What a booted system looked like after the workload (before the release). */
export interface MachineSummary {
  /** Each boot stage: name, milliseconds, frames it took. */
  boot: { name: string; ms: number; frames: number }[];
  /** PMM frames per zone: total and free. */
  zones: Record<Zone, { totalFrames: number; freeFrames: number }>;
  /** The VMM's counters (faults by cause, INVLPGs, shootdowns, page tables, frames held). */
  vmm: VmmStats;
  /** Regions of the kernel address space. */
  kernelRegions: number;
  /** TLB lookups over every CPU, and the share that hit. */
  tlb: { hits: number; misses: number; hitRate: number | null };
}

/** What `--inject KIND` did: the bug, the kind of violation that caught it, and its report. */
export interface InjectedBug {
  kind: GuardViolationKind;
  /** The violation's kind: the same as `kind`, or slack / canary when no guard page was hit. */
  caughtAs: GuardViolationKind;
  address: number;
  report: string;
}

/**
 * Composes the system, runs the synthetic workload on its heap, frees what is left and checks
 * the heap. The timing covers the workload's operations only.
 */
export async function runSystem(options: RunOptions): Promise<RunReport> {
  const system = await composeFileOrHeap(options.configFile, options.heap);
  const workloadOptions = {
    ops: options.ops,
    seed: options.seed,
    ...(options.maxLiveBlocks === undefined ? {} : { maxLiveBlocks: options.maxLiveBlocks }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  };
  const workload = new SystemWorkload(system, workloadOptions);
  const started = performance.now();
  const counters = workload.run();
  const seconds = (performance.now() - started) / 1000;
  // Read before the release: the state the workload left behind.
  const machine = describeMachine(system);
  const dump = options.dump === true ? (system.heap.dump?.() ?? null) : undefined;
  let injected: InjectedBug | undefined;
  if (options.inject !== undefined) {
    const violation = injectBug(system.heap, options.inject);
    injected = {
      kind: options.inject,
      caughtAs: violation.kind,
      address: violation.address,
      report: violation.report,
    };
  }
  const releasedAtEnd = workload.releaseAll();
  system.heap.check();
  // The heap's own figure: a heap may take pages from more than the system's page source
  // (heap-guard maps its own guarded runs).
  const heapStats = system.heap.stats();
  const pageSize = system.pageSource.pageSize;
  const footprintBytes = heapStats.peakFootprintBytes;
  return {
    config: system.source,
    plugins: summarizePlugins(system),
    seed: options.seed,
    operations: operationCounts(counters),
    peakLiveBytes: counters.peakLiveBytes,
    peakLiveBlocks: counters.peakLiveBlocks,
    footprintBytes,
    pageSize,
    fragmentation:
      counters.peakLiveBytes > 0 ? round(footprintBytes / counters.peakLiveBytes, 3) : null,
    seconds: round(seconds, 3),
    opsPerSecond: seconds > 0 ? Math.round(counters.operations / seconds) : 0,
    releasedAtEnd,
    check: "passed",
    heap: system.heap.stats(),
    events: workload.events,
    ...(machine === undefined ? {} : { machine }),
    ...(dump === undefined ? {} : { dump }),
    ...(injected === undefined ? {} : { injected }),
  };
}

/** The machine-side figures of a booted system; undefined for flat memory. */
function describeMachine(system: LoadedSystem): MachineSummary | undefined {
  const { pmm, vmm, report } = system;
  if (pmm === undefined || vmm === undefined || report === undefined) return undefined;
  const pmmStats = pmm.stats();
  const zones = {} as MachineSummary["zones"];
  for (const zone of ZONES) {
    zones[zone] = {
      totalFrames: pmmStats.zones[zone].totalFrames,
      freeFrames: pmmStats.zones[zone].freeFrames,
    };
  }
  let hits = 0;
  let misses = 0;
  const cpus = (system.machine as { cpus?: { counters(): { hits: number; misses: number } }[] })
    ?.cpus;
  for (const cpu of cpus ?? []) {
    const counters = cpu.counters();
    hits += counters.hits;
    misses += counters.misses;
  }
  return {
    boot: report.stages.map((stage) => ({
      name: stage.name,
      ms: round(stage.ms, 3),
      frames: stage.frames,
    })),
    zones,
    vmm: vmm.stats(),
    kernelRegions: vmm.kernelSpace.regions().length,
    tlb: { hits, misses, hitRate: hits + misses > 0 ? round(hits / (hits + misses), 4) : null },
  };
}

function operationCounts(counters: WorkloadCounters): RunReport["operations"] {
  return {
    total: counters.operations,
    allocs: counters.allocs,
    frees: counters.frees,
    reallocs: counters.reallocs,
    failures: counters.failures,
    alignedAllocs: counters.alignedAllocs,
    zeroedAllocs: counters.zeroedAllocs,
    movedReallocs: counters.movedReallocs,
  };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function count(value: number): string {
  return value.toLocaleString("en-US");
}

function formatOptions(options: unknown): string {
  if (typeof options !== "object" || options === null) return "";
  return Object.entries(options)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
}

function formatEvents(events: SystemEventCounters): string {
  const dma = events.dmaSupported
    ? `${count(events.dmaBuffers)} DMA buffers below 16 MiB (${count(events.dmaFailures)} failed)`
    : "no DMA buffers (the page source has no physical constraints)";
  const processes =
    events.spacesCreated > 0
      ? `${count(events.spacesCreated)} processes (${count(events.userPagesTouched)} user pages written)`
      : "no processes (no VMM)";
  return `${count(events.pageBuffers)} page-sized buffers, ${dma}, ${processes}`;
}

function formatMachine(machine: MachineSummary): string[] {
  const vmm = machine.vmm;
  const zones = ZONES.filter((zone) => machine.zones[zone].totalFrames > 0).map(
    (zone) =>
      `${zone} ${count(machine.zones[zone].freeFrames)} of ${count(machine.zones[zone].totalFrames)} free`,
  );
  const bootMs = machine.boot.reduce((sum, stage) => sum + stage.ms, 0);
  const bootFrames = machine.boot.reduce((sum, stage) => sum + stage.frames, 0);
  return [
    `boot           ${machine.boot.length} stages in ${bootMs.toFixed(1)} ms, ${count(bootFrames)} frames: ` +
      machine.boot.map((stage) => stage.name).join(", "),
    `pmm frames     ${zones.join(", ")} (after the workload)`,
    `vmm            ${count(vmm.spaces)} space(s), ${count(machine.kernelRegions)} kernel regions; faults: ` +
      `${count(vmm.demandZeroFaults)} demand-zero, ${count(vmm.copyOnWriteFaults)} copy-on-write, ` +
      `${count(vmm.heapGrowthFaults)} heap, ${count(vmm.badFaults)} bad; ${count(vmm.invlpgs)} INVLPGs ` +
      `(${count(vmm.shootdowns)} shootdowns), ${count(vmm.pageTablePages)} page-table pages`,
    `tlb            ${machine.tlb.hitRate === null ? "no lookups" : `${(machine.tlb.hitRate * 100).toFixed(2)} % hits`} ` +
      `(${count(machine.tlb.hits)} hits, ${count(machine.tlb.misses)} misses)`,
  ];
}

/** The human-readable report. */
export function formatRunReport(report: RunReport): string {
  const ops = report.operations;
  const nameWidth = Math.max(...report.plugins.map((plugin) => plugin.name.length));
  const lines = [
    `allockit run: ${report.config}, seed ${report.seed}`,
    ...report.plugins.map((plugin) =>
      `  ${plugin.section.padEnd(8)} ${plugin.name.padEnd(nameWidth)}  ${formatOptions(plugin.options)}`.trimEnd(),
    ),
    `operations     ${count(ops.total)}: ${count(ops.allocs)} allocs, ${count(ops.frees)} frees, ` +
      `${count(ops.reallocs)} reallocs, ${count(ops.failures)} failures`,
    `peak live      ${formatSize(report.peakLiveBytes)} in ${count(report.peakLiveBlocks)} blocks`,
    `footprint      ${formatSize(report.footprintBytes)} (peak pages from the page source: ` +
      `${count(report.footprintBytes / report.pageSize)} x ${formatSize(report.pageSize)})`,
    `fragmentation  ${report.fragmentation === null ? "n/a (nothing was live)" : report.fragmentation.toFixed(2)} (footprint / peak live)`,
    `time           ${report.seconds.toFixed(2)} s, ${count(report.opsPerSecond)} ops/s`,
    `heap check     ${report.check} after freeing the ${count(report.releasedAtEnd)} blocks left live`,
    `beside it      ${formatEvents(report.events)}`,
    ...(report.machine === undefined ? [] : formatMachine(report.machine)),
  ];
  if (report.dump !== undefined) {
    lines.push(
      "",
      report.dump === null
        ? "(this heap has no dump())"
        : `heap dump after the workload, before the release:\n${report.dump.trimEnd()}`,
    );
  }
  if (report.injected !== undefined) {
    const { kind, caughtAs, report: text } = report.injected;
    lines.push("", `injected ${kind}: caught as ${caughtAs}`, text.trimEnd());
  }
  return lines.join("\n") + "\n";
}
