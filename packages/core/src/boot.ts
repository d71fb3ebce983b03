import { MiB, PAGE_SIZE, alignUp, formatSize, hex } from "./address.js";
import { BumpBootAllocator } from "./boot-allocator.js";
import type { BootAllocator } from "./contracts/boot-allocator.js";
import type { PhysicalMemory } from "./contracts/memory.js";
import type { MemoryMap, PhysRange } from "./contracts/memory-map.js";
import type { PhysicalMemoryManager } from "./contracts/pmm.js";
import type { BootStage, VirtualMemoryManager } from "./contracts/vmm.js";
import { AllocatorError, describeValue } from "./errors.js";
import { normalizeMemoryMap, totalBytes } from "./memory-map.js";

/** What the firmware and the boot loader hand the kernel. */
export interface BootInfo {
  /** Where the kernel image was loaded; default 1 MiB at 1 MiB. */
  kernelImage?: PhysRange;
  /** Boot modules (an initrd, say): reserved like the image. */
  modules?: readonly PhysRange[];
}

/** The parts `bootSystem` brings up, lower layers first. */
export interface BootParts extends BootInfo {
  /** The machine object (passed to the VMM). */
  machine: unknown;
  /** The firmware memory map, as the firmware gave it. */
  memoryMap: MemoryMap;
  physical: PhysicalMemory;
  pmm?: PhysicalMemoryManager;
  vmm?: VirtualMemoryManager;
}

/** What booting did: each stage, in order, with the frames it took. */
export interface BootReport {
  stages: BootStage[];
  /** The normalised firmware map. */
  memoryMap: MemoryMap;
  kernelImage: PhysRange;
  bootAllocator: BootAllocator;
  totalMs: number;
}

/** Default kernel image: 1 MiB loaded at 1 MiB, as a multiboot loader places it. */
export const DEFAULT_KERNEL_IMAGE: PhysRange = { base: MiB, length: MiB, name: "kernel image" };

/**
 * Brings a system up in the order a kernel does: the firmware map (normalised), the boot
 * allocator after the kernel image, the PMM (its metadata from the boot allocator, which is then
 * capped), then the VMM: kernel page tables, paging on, the VMM itself and the kernel heap
 * region. Without a PMM it stops after the boot allocator; without a VMM after the PMM.
 */
export function bootSystem(parts: BootParts): BootReport {
  const began = performance.now();
  const stages: BootStage[] = [];

  let started = performance.now();
  const normalized = normalizeMemoryMap(parts.memoryMap);
  const map = normalized.map;
  stages.push({
    name: "firmware map",
    details: [
      `${map.length} entries, ${formatSize(totalBytes(map))} usable`,
      ...normalized.changes.map((change) => `normalised: ${change}`),
    ],
    frames: 0,
    ms: performance.now() - started,
  });

  started = performance.now();
  const kernelImage = checkRange(parts.kernelImage ?? DEFAULT_KERNEL_IMAGE, "kernel image");
  const modules = (parts.modules ?? []).map((m, i) => checkRange(m, `module ${i}`));
  const imageEnd = alignUp(kernelImage.base + kernelImage.length, PAGE_SIZE);
  const boot = new BumpBootAllocator(map, {
    reserved: [{ ...kernelImage, name: kernelImage.name ?? "kernel image" }, ...modules],
    start: imageEnd,
  });
  stages.push({
    name: "boot allocator",
    details: [
      `kernel image ${hex(kernelImage.base)} .. ${hex(imageEnd)}${modules.length > 0 ? `, ${modules.length} module(s)` : ""} and frame 0 reserved`,
      `bump pointer from ${hex(imageEnd)}`,
    ],
    frames: 0,
    ms: performance.now() - started,
  });

  if (parts.pmm !== undefined) {
    started = performance.now();
    const pmm = parts.pmm;
    pmm.init(map, boot, parts.physical);
    const taken = boot.allocated();
    const bytes = taken.reduce((sum, r) => sum + r.length, 0);
    const stats = pmm.stats();
    stages.push({
      name: "pmm",
      details: [
        `${pmm.name}: ${stats.totalFrames} frames managed (${formatSize(stats.totalFrames * PAGE_SIZE)}), ${stats.freeFrames} free`,
        `metadata ${formatSize(stats.metadataBytes)} from the boot allocator at ${taken.map((r) => `${hex(r.base)} .. ${hex(r.base + r.length)}`).join(", ") || "(none)"}; boot allocator capped`,
      ],
      frames: Math.ceil(bytes / PAGE_SIZE),
      ms: performance.now() - started,
    });
    if (parts.vmm !== undefined) {
      stages.push(
        ...parts.vmm.boot({
          machine: parts.machine,
          memoryMap: map,
          kernelImage,
          bootAllocations: taken,
          pmm,
        }),
      );
    }
  } else if (parts.vmm !== undefined) {
    throw new AllocatorError("ECONFIG", "a VMM needs a PMM to take frames from", parts.vmm.name);
  }
  return {
    stages,
    memoryMap: map,
    kernelImage,
    bootAllocator: boot,
    totalMs: performance.now() - began,
  };
}

function checkRange(range: PhysRange, what: string): PhysRange {
  if (
    typeof range !== "object" ||
    range === null ||
    !Number.isSafeInteger(range.base) ||
    !Number.isSafeInteger(range.length) ||
    range.base < 0 ||
    range.length <= 0
  ) {
    throw new AllocatorError(
      "EINVAL",
      `${what} ${describeValue(range)} is not a physical range`,
      range,
    );
  }
  return range;
}

/** The boot report as text: one block per stage. */
export function formatBootReport(report: BootReport): string {
  const lines: string[] = [];
  report.stages.forEach((stage, i) => {
    lines.push(
      `${i + 1}. ${stage.name} (${stage.frames} frame${stage.frames === 1 ? "" : "s"}, ${stage.ms.toFixed(2)} ms)`,
    );
    for (const detail of stage.details) lines.push(`   ${detail}`);
  });
  const frames = report.stages.reduce((sum, s) => sum + s.frames, 0);
  lines.push(
    `booted in ${report.totalMs.toFixed(1)} ms; ${frames} frames (${formatSize(frames * PAGE_SIZE)}) taken by boot`,
  );
  return lines.join("\n");
}
