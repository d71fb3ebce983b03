import { VIRT48_LIMIT, formatCanonical, hex } from "@allockit/core";
import type { PhysicalMemoryManager, VirtualMemoryManager } from "@allockit/core";
import type { Machine } from "@allockit/x86-machine";

/**
 * A booted system the VMM suite drives: the machine (two CPUs or more, so that a missing TLB
 * shootdown shows), the VMM after `bootSystem` (paging on, kernel space loaded everywhere, the
 * page-fault handler installed) and the PMM it takes frames from.
 */
export interface VmmSystem {
  readonly machine: Machine;
  readonly vmm: VirtualMemoryManager;
  readonly pmm: PhysicalMemoryManager;
}

/** Builds a freshly booted system on every call (a small machine keeps that cheap). */
export type VmmFactory = () => VmmSystem;

/** CPUs the suite uses: the first two (one when the machine has only one). */
export const SUITE_CPUS = 2;

/** How the suite prints a linear address of this VMM: canonical form in 4-level paging. */
export function addressFormatter(vmm: VirtualMemoryManager): (va: number) => string {
  if (vmm.mode !== "long") return (va: number) => hex(va);
  // 2^48 is the (exclusive) end of the kernel half: 2^64 in canonical form.
  return (va: number) => (va === VIRT48_LIMIT ? "0x10000000000000000" : formatCanonical(va));
}

/** Calls the factory and checks that what it returned is something the suite can drive. */
export function bootVmmSystem(factory: VmmFactory): VmmSystem {
  const system = factory();
  const { machine, vmm, pmm } = system;
  if (machine === undefined || !Array.isArray(machine.cpus) || machine.cpus.length === 0) {
    throw new TypeError("the VMM conformance factory must return { machine, vmm, pmm }");
  }
  if (vmm === undefined || vmm.kernelSpace === undefined) {
    throw new TypeError(
      "the VMM conformance factory must return a booted VMM (vmm.kernelSpace is missing)",
    );
  }
  if (pmm === undefined || typeof pmm.stats !== "function") {
    throw new TypeError("the VMM conformance factory must return the PMM the VMM uses");
  }
  return system;
}
