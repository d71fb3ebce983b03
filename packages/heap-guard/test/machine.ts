import { MiB } from "@allockit/core";
import { BuddyPmm } from "@allockit/pmm-buddy";
import { bootMachine as boot } from "@allockit/vmm";
import type { VmmMode, X86Vmm } from "@allockit/vmm";
import { GuardHeap, GuardPageSource } from "../src/index.js";
import type { GuardHeapOptions, GuardPageSourceOptions } from "../src/index.js";

/**
 * A two-CPU machine booted with the buddy PMM and the x86 VMM (long mode by default: kernel
 * addresses are packed 48-bit numbers around 0xffff_9000_0000_0000).
 */
export function bootMachine(mode: VmmMode = "long", ramBytes = 64 * MiB): X86Vmm {
  return boot({ ramBytes, cpus: 2, mode, pmm: new BuddyPmm() }).vmm;
}

/** A guard heap over a fresh guard page source in the kernel space of `vmm`. */
export function guardOnMachine(
  vmm: X86Vmm,
  heapOptions: GuardHeapOptions = {},
  sourceOptions: GuardPageSourceOptions = {},
): { heap: GuardHeap; source: GuardPageSource } {
  const source = new GuardPageSource(vmm.kernelSpace, vmm.memory, {
    quarantinePages: heapOptions.quarantinePages,
    ...sourceOptions,
  });
  return { heap: new GuardHeap(source, heapOptions), source };
}
