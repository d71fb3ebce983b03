import type { BootReport, Heap, PhysicalMemoryManager, VirtualMemoryManager } from "@allockit/core";
import type { CpuCounters } from "@allockit/x86-machine";

/**
 * What the report reads from a system: `compose()`'s ComposedSystem fits. A flat system has no
 * machine, PMM, VMM or boot report; its report has no frame map.
 */
export interface ReportedSystem {
  machine: unknown;
  heap: Heap;
  pmm: PhysicalMemoryManager | undefined;
  vmm: VirtualMemoryManager | undefined;
  report: BootReport | undefined;
}

/** The CPUs of a machine object (anything with a `cpus` array of objects with counters()). */
export function machineCpus(machine: unknown): Array<{ counters(): CpuCounters }> {
  if (typeof machine !== "object" || machine === null) return [];
  const cpus = (machine as { cpus?: unknown }).cpus;
  if (!Array.isArray(cpus)) return [];
  return cpus.filter(
    (cpu): cpu is { counters(): CpuCounters } =>
      typeof (cpu as { counters?: unknown }).counters === "function",
  );
}
