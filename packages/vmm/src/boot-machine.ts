import {
  bootSystem,
  type BootReport,
  type PageTableAccess,
  type PhysicalMemoryManager,
} from "@allockit/core";
import { Machine, type MachineOptions } from "@allockit/x86-machine";
import type { VmmMode } from "./layout.js";
import { X86Vmm } from "./x86-vmm.js";

export interface BootMachineOptions extends MachineOptions {
  /** The page-frame allocator, not yet initialised (boot initialises it). */
  pmm: PhysicalMemoryManager;
  /** Paging mode (default long). */
  mode?: VmmMode;
  /** How page tables are reached once paging is on (default direct-map). */
  access?: PageTableAccess;
}

/** A machine booted with the x86 VMM: paging on, the kernel heap region ready. */
export interface BootedMachine {
  machine: Machine;
  pmm: PhysicalMemoryManager;
  vmm: X86Vmm;
  report: BootReport;
}

/**
 * Builds a machine and boots it with `pmm` and an X86Vmm through core's bootSystem, the same
 * stages a config with a machine, a PMM and this VMM runs: for tests and scripts that want a
 * paging system in one call.
 *
 * @example
 * const { vmm } = bootMachine({ ramBytes: 64 * MiB, pmm: new BuddyPmm(), mode: "pae" });
 * const heap = new ListHeap(vmm.kernelHeap);
 */
export function bootMachine(options: BootMachineOptions): BootedMachine {
  const { pmm, mode = "long", access = "direct-map", ...machineOptions } = options;
  const machine = new Machine(machineOptions);
  const vmm = new X86Vmm({ mode, access });
  const report = bootSystem({
    machine,
    memoryMap: machine.memoryMap,
    physical: machine.memory,
    pmm,
    vmm,
  });
  return { machine, pmm, vmm, report };
}
