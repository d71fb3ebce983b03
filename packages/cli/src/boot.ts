import {
  AllocatorError,
  PAGE_SIZE,
  formatBootReport,
  formatSize,
  hex,
  isAllocatorError,
  parseConfig,
  type AllockitConfig,
  type BootStage,
  type PluginSection,
  type PmmStats,
  type Region,
  type VirtualMemoryManager,
  type VmmStats,
} from "@allockit/core";
import { MEMORY_MAP_PRESETS } from "@allockit/x86-machine";
import { composeConfig, readConfigFile, summarizePlugins, type PluginSummary } from "./system.js";

export const BOOT_MODES = ["32bit", "pae", "long"] as const;
export const BOOT_ACCESSES = ["direct-map", "recursive", "window"] as const;

/** The first-party PMMs by the short names `--pmm` takes. */
export const PMM_SHORT_NAMES: Readonly<Record<string, string>> = {
  stack: "@allockit/pmm-stack",
  bitmap: "@allockit/pmm-bitmap",
  buddy: "@allockit/pmm-buddy",
};

export const BOOT_MACHINE_PLUGIN = "@allockit/x86-machine";
export const BOOT_VMM_PLUGIN = "@allockit/vmm";
export const BOOT_HEAP_PLUGIN = "@allockit/core/list-heap";

/** What `allockit boot` builds when no flag or file says otherwise. */
export const BOOT_DEFAULTS = {
  mode: "long",
  pmm: "stack",
  access: "direct-map",
  ramMiB: 256,
} as const;

/** The flags of `allockit boot`; each one given overrides the config file's section. */
export interface BootFlags {
  mode?: string;
  pmm?: string;
  access?: string;
  ramMiB?: number;
  preset?: string;
  cpus?: number;
  /** A JSON config file whose machine, pmm, vmm and heap sections are the starting point. */
  configFile?: string;
}

function oneOf(flag: string, value: string, allowed: readonly string[]): string {
  if (allowed.includes(value)) return value;
  throw new AllocatorError(
    "EINVAL",
    `${flag} ${JSON.stringify(value)} is not one of ${allowed.join(", ")}`,
    value,
  );
}

/** The options of a file's section when it names `plugin`, else none (they belong to another). */
function optionsOf(section: PluginSection | undefined, plugin: string): Record<string, unknown> {
  return section?.plugin === plugin ? { ...section.options } : {};
}

/**
 * The config `allockit boot` composes: the file's (or none), with the flags given overriding its
 * machine, pmm and vmm sections and defaults filling the sections it lacks. A machine or VMM flag
 * makes that section the first-party plugin (x86-machine, @allockit/vmm), keeping the file's
 * options for it when the file already named that plugin.
 */
export function bootConfig(flags: BootFlags, fileConfig?: AllockitConfig): AllockitConfig {
  if (flags.mode !== undefined) oneOf("--mode", flags.mode, BOOT_MODES);
  if (flags.access !== undefined) oneOf("--access", flags.access, BOOT_ACCESSES);
  if (flags.preset !== undefined) oneOf("--preset", flags.preset, Object.keys(MEMORY_MAP_PRESETS));
  if (flags.pmm !== undefined && flags.pmm.trim() === "") {
    throw new AllocatorError(
      "EINVAL",
      `--pmm ${JSON.stringify(flags.pmm)} is not stack, bitmap, buddy or a package name`,
      flags.pmm,
    );
  }
  if (flags.ramMiB !== undefined && flags.preset !== undefined) {
    throw new AllocatorError(
      "EINVAL",
      `--ram ${flags.ramMiB} and --preset ${JSON.stringify(flags.preset)} both set the RAM; give one`,
      flags.preset,
    );
  }

  // machine
  let machine = fileConfig?.machine;
  const machineFlags = flags.ramMiB !== undefined || flags.preset !== undefined;
  if (machine === undefined || machineFlags || flags.cpus !== undefined) {
    const options = optionsOf(machine, BOOT_MACHINE_PLUGIN);
    if (machine === undefined && !machineFlags) options.ramMiB = BOOT_DEFAULTS.ramMiB;
    if (flags.ramMiB !== undefined) {
      delete options.preset;
      options.ramMiB = flags.ramMiB;
    }
    if (flags.preset !== undefined) {
      delete options.ramMiB;
      options.preset = flags.preset;
    }
    if (flags.cpus !== undefined) options.cpus = flags.cpus;
    machine = { plugin: BOOT_MACHINE_PLUGIN, options };
  }

  // pmm
  let pmm = fileConfig?.pmm;
  if (pmm === undefined || flags.pmm !== undefined) {
    const name = flags.pmm ?? BOOT_DEFAULTS.pmm;
    const plugin = PMM_SHORT_NAMES[name] ?? name;
    pmm = { plugin, options: optionsOf(pmm, plugin) };
  }

  // vmm
  let vmm = fileConfig?.vmm;
  if (vmm === undefined || flags.mode !== undefined || flags.access !== undefined) {
    const options = optionsOf(vmm, BOOT_VMM_PLUGIN);
    if (flags.mode !== undefined) options.mode = flags.mode;
    else options.mode ??= BOOT_DEFAULTS.mode;
    if (flags.access !== undefined) options.access = flags.access;
    else options.access ??= BOOT_DEFAULTS.access;
    vmm = { plugin: BOOT_VMM_PLUGIN, options };
  }

  const heap = fileConfig?.heap ?? { plugin: BOOT_HEAP_PLUGIN, options: {} };
  return { machine, pmm, vmm, heap };
}

/** One region of the kernel space as the boot report lists it. */
export interface BootRegion {
  start: number;
  /** `start` as the paging mode prints it (canonical hex in long mode). */
  address: string;
  sizeBytes: number;
  kind: string;
  name: string;
  physical?: number;
}

/** What the heap check after boot did. */
export interface BootHeapProbe {
  /** The heap plugin's name. */
  plugin: string;
  /** heap_alloc calls made (and freed again). */
  allocations: number;
  /** Sizes asked for, in bytes. */
  sizes: number[];
  /** The first pointer heap_alloc returned, and as the mode prints it. */
  firstPointer: number;
  firstPointerAddress: string;
  /** Whether it lies inside the kernel heap region. */
  insideKernelHeap: boolean;
  /**
   * The VMM's heap-growth faults after the allocations: pages of the heap region mapped on first
   * touch. 0 when the VMM commits heap pages as it hands them out (@allockit/vmm's default).
   */
  heapGrowthFaults: number;
  /** PMM frames in use while the allocations were live, more than right after boot. */
  framesWhileLive: number;
  /** Most pages the heap held from its page source (the kernel heap region). */
  peakHeapPages: number;
  /** Free PMM frames after everything was freed again (compare with `pmm.freeFrames`). */
  freeFramesAfter: number;
  check: "passed";
}

/** What `allockit boot` reports; `--json` prints exactly this. */
export interface BootCommandReport {
  /** The config file (with "+ flags" when flags overrode it), or "command-line flags". */
  config: string;
  plugins: PluginSummary[];
  stages: BootStage[];
  totalMs: number;
  /** Frames all the stages took. */
  bootFrames: number;
  /** The PMM's and the VMM's counters and the kernel space's regions right after boot. */
  pmm: { name: string } & PmmStats;
  vmm: { name: string; mode: string; access: string } & VmmStats;
  /** The kernel space's regions, lowest first. */
  regions: BootRegion[];
  heap: BootHeapProbe;
}

/** Sizes the heap probe allocates: small, page-sized, aligned, and more than the initial region. */
const PROBE = [
  { size: 24, align: 0 },
  { size: 200, align: 16 },
  { size: 4096, align: 4096 },
  { size: 65536, align: 0 },
  { size: 1536 * 1024, align: 0 },
];

/** `va` as the VMM prints linear addresses in its mode, or plain hex for a VMM with no `format`. */
function formatterOf(vmm: VirtualMemoryManager): (va: number) => string {
  const format = (vmm as { format?: unknown }).format;
  return typeof format === "function" ? (va) => String(format.call(vmm, va)) : (va) => hex(va);
}

function hasFlags(flags: BootFlags): boolean {
  return (
    flags.mode !== undefined ||
    flags.pmm !== undefined ||
    flags.access !== undefined ||
    flags.ramMiB !== undefined ||
    flags.preset !== undefined ||
    flags.cpus !== undefined
  );
}

/** A booted system's report, and core's text of its boot stages. */
export interface BootOutcome {
  report: BootCommandReport;
  /** formatBootReport() of the boot. */
  bootText: string;
}

/**
 * Composes and boots the system the flags (and config file) describe, then proves its heap works:
 * a few heap_alloc calls through the kernel heap, their first and last bytes written and read
 * back through the VMM's memory, freed again, then the heap's, the VMM's and the PMM's `check()`.
 */
export async function bootFromFlags(flags: BootFlags): Promise<BootOutcome> {
  let fileConfig: AllockitConfig | undefined;
  if (flags.configFile !== undefined)
    fileConfig = parseConfig(await readConfigFile(flags.configFile), flags.configFile);
  const config = bootConfig(flags, fileConfig);
  const source =
    flags.configFile === undefined
      ? "command-line flags"
      : hasFlags(flags)
        ? `${flags.configFile} + flags`
        : flags.configFile;
  const system = await composeConfig(config, source, flags.configFile).catch((error: unknown) => {
    // `--pmm foo`: say which flag named the package that is not there.
    const pmmPlugin = config.pmm?.plugin;
    if (
      flags.pmm !== undefined &&
      isAllocatorError(error) &&
      error.code === "EPLUGIN" &&
      error.value === pmmPlugin
    ) {
      throw new AllocatorError(
        "EPLUGIN",
        `--pmm ${JSON.stringify(flags.pmm)} is not stack, bitmap or buddy, so it was taken as a package name: ${error.message.replace(/^EPLUGIN: /, "")}`,
        flags.pmm,
        { cause: error },
      );
    }
    throw error;
  });
  const report = system.report;
  const pmm = system.pmm;
  const vmm = system.vmm;
  if (report === undefined || pmm === undefined || vmm === undefined) {
    throw new AllocatorError("ECONFIG", `${source}: the system has no PMM and VMM to boot`, config);
  }
  // The state right after boot, before the heap probe changes it.
  const format = formatterOf(vmm);
  const pmmStats = pmm.stats();
  const vmmStats = vmm.stats();
  const regions: BootRegion[] = vmm.kernelSpace.regions().map((r: Region) => ({
    start: r.start,
    address: format(r.start),
    sizeBytes: r.sizeBytes,
    kind: r.kind,
    name: r.name,
    ...(r.physical === undefined ? {} : { physical: r.physical }),
  }));

  // The heap probe.
  const heap = system.heap;
  const memory = system.memory;
  const pointers: number[] = [];
  for (const { size, align } of PROBE) {
    const ptr = heap.heap_alloc(size, align);
    if (ptr === 0) {
      throw new AllocatorError(
        "ENOMEM",
        `${source}: heap_alloc(${size}) returned 0 right after boot`,
        size,
      );
    }
    if (align > 1 && ptr % align !== 0) {
      throw new AllocatorError(
        "ECORRUPT",
        `heap_alloc(${size}, ${align}) returned ${format(ptr)}, not aligned to ${align}`,
        ptr,
      );
    }
    memory.write8(ptr, 0xa5);
    memory.write8(ptr + size - 1, pointers.length);
    pointers.push(ptr);
  }
  PROBE.forEach(({ size }, i) => {
    const ptr = pointers[i]!;
    if (memory.read8(ptr) !== 0xa5 || memory.read8(ptr + size - 1) !== i) {
      throw new AllocatorError(
        "ECORRUPT",
        `the bytes written at ${format(ptr)} (${size} bytes) did not read back`,
        ptr,
      );
    }
  });
  const heapGrowthFaults = vmm.stats().heapGrowthFaults;
  const framesWhileLive = pmmStats.freeFrames - pmm.stats().freeFrames;
  for (const ptr of [...pointers].reverse()) heap.heap_free(ptr);
  heap.check();
  vmm.check();
  pmm.check();

  const first = pointers[0]!;
  const heapRegion = vmm.kernelSpace.regionAt(first);
  const result: BootCommandReport = {
    config: source,
    plugins: summarizePlugins(system),
    stages: report.stages,
    totalMs: report.totalMs,
    bootFrames: report.stages.reduce((sum, stage) => sum + stage.frames, 0),
    pmm: { name: pmm.name, ...pmmStats },
    vmm: { name: vmm.name, mode: vmm.mode, access: vmm.access, ...vmmStats },
    regions,
    heap: {
      plugin: system.plugins.heap?.manifest.name ?? config.heap.plugin,
      allocations: PROBE.length,
      sizes: PROBE.map((p) => p.size),
      firstPointer: first,
      firstPointerAddress: format(first),
      insideKernelHeap: heapRegion?.kind === "heap",
      heapGrowthFaults,
      framesWhileLive,
      peakHeapPages: system.pageSource.stats().peakPagesInUse,
      freeFramesAfter: pmm.stats().freeFrames,
      check: "passed",
    },
  };
  return { report: result, bootText: formatBootReport(report) };
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

/** The boot report (core's formatBootReport) and the summary after it, as text. */
export function formatBootCommandReport({ report, bootText }: BootOutcome): string {
  const { pmm, vmm, heap } = report;
  const nameWidth = Math.max(...report.plugins.map((plugin) => plugin.name.length));
  const lines = [
    `allockit boot: ${report.config}`,
    ...report.plugins.map((plugin) =>
      `  ${plugin.section.padEnd(8)} ${plugin.name.padEnd(nameWidth)}  ${formatOptions(plugin.options)}`.trimEnd(),
    ),
    "",
    bootText,
    "",
    "after boot:",
    `pmm      ${pmm.name}: ${count(pmm.freeFrames)} of ${count(pmm.totalFrames)} frames free ` +
      `(${formatSize(pmm.freeFrames * PAGE_SIZE)} of ${formatSize(pmm.totalFrames * PAGE_SIZE)}), ` +
      `metadata ${formatSize(pmm.metadataBytes)}`,
    `vmm      ${vmm.name}, ${vmm.mode} paging, ${vmm.access} access: ${count(vmm.spaces)} space${vmm.spaces === 1 ? "" : "s"}, ` +
      `${count(vmm.pageTablePages)} page-table pages, ${count(vmm.framesHeld)} private frames held`,
    `         faults: ${count(vmm.demandZeroFaults)} demand-zero, ${count(vmm.copyOnWriteFaults)} copy-on-write, ` +
      `${count(vmm.heapGrowthFaults)} heap growth, ${count(vmm.badFaults)} bad; ` +
      `${count(vmm.invlpgs)} INVLPGs, ${count(vmm.shootdowns)} shootdowns`,
    `kernel space: ${report.regions.length} region${report.regions.length === 1 ? "" : "s"}`,
  ];
  const rows = report.regions.map((r) => [r.address, formatSize(r.sizeBytes), r.kind, r.name]);
  const header = ["start", "size", "kind", "name"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [header, ...rows]) {
    lines.push(
      "  " +
        row
          .map((cell, i) =>
            i === 1 ? cell.padStart(widths[i]!) : i === 3 ? cell : cell.padEnd(widths[i]!),
          )
          .join("  "),
    );
  }
  lines.push(
    "heap probe:",
    `heap     ${heap.plugin}: first pointer ${heap.firstPointerAddress}` +
      `${heap.insideKernelHeap ? " (in the kernel heap region)" : ""}`,
    `         ${heap.allocations} heap_alloc (${heap.sizes.map((s) => formatSize(s)).join(", ")}) written, ` +
      `read back and freed; heap and vmm checks ${heap.check}`,
    `         ${count(heap.peakHeapPages)} pages from the kernel heap region at most, ${count(heap.framesWhileLive)} PMM frames ` +
      `in use while live, ${count(heap.freeFramesAfter)} frames free after`,
    `         heap growth faults: ${count(heap.heapGrowthFaults)} (pages faulted in on first touch; ` +
      `0 when the VMM commits heap pages as it hands them out)`,
  );
  return lines.join("\n") + "\n";
}
