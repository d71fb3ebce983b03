import { bootSystem, MiB, type BootReport, type PhysicalMemoryManager } from "@allockit/core";
import { BitmapPmm } from "@allockit/pmm-bitmap";
import { BuddyPmm } from "@allockit/pmm-buddy";
import { StackPmm } from "@allockit/pmm-stack";
import { Machine, memoryMapPreset } from "@allockit/x86-machine";
import { X86Vmm, type VmmMode } from "../src/index.js";
import type { PageTableAccess } from "@allockit/core";

export const MODES: readonly VmmMode[] = ["32bit", "pae", "long"];
export const ACCESSES: readonly PageTableAccess[] = ["direct-map", "recursive", "window"];
export const PMMS = {
  stack: () => new StackPmm(),
  bitmap: () => new BitmapPmm(),
  buddy: () => new BuddyPmm(),
} as const;
export type PmmName = keyof typeof PMMS;

export interface TestSystem {
  machine: Machine;
  pmm: PhysicalMemoryManager;
  vmm: X86Vmm;
  report: BootReport;
}

export interface TestSystemOptions {
  mode?: VmmMode;
  access?: PageTableAccess;
  pmm?: PmmName;
  ramBytes?: number;
  preset?: string;
  cpus?: number;
  vmm?: (mode: VmmMode, access: PageTableAccess) => X86Vmm;
}

/** A machine booted with a PMM and the x86 VMM. */
export function bootTestSystem(options: TestSystemOptions = {}): TestSystem {
  const mode = options.mode ?? "long";
  const access = options.access ?? "direct-map";
  const machine = new Machine({
    ...(options.preset === undefined
      ? { ramBytes: options.ramBytes ?? 32 * MiB }
      : { memoryMap: memoryMapPreset(options.preset) }),
    cpus: options.cpus ?? 2,
  });
  const pmm = PMMS[options.pmm ?? "stack"]();
  const vmm = options.vmm?.(mode, access) ?? new X86Vmm({ mode, access });
  const report = bootSystem({
    machine,
    memoryMap: machine.memoryMap,
    physical: machine.memory,
    pmm,
    vmm,
  });
  return { machine, pmm, vmm, report };
}

export const USER_RW = { write: true, user: true, execute: false } as const;
export const USER_RO = { write: false, user: true, execute: false } as const;
export const KERNEL_RW = { write: true, user: false, execute: false } as const;
export const KERNEL_RO = { write: false, user: false, execute: false } as const;
