import { MiB } from "@allockit/core";
import { BuddyPmm } from "@allockit/pmm-buddy";
import { bootMachine, type X86Vmm } from "@allockit/vmm";

/**
 * A two-CPU machine booted in long mode with the buddy PMM and the x86 VMM: the kernel heap
 * region lives at packed 48-bit addresses (0x9000_0000_0000 and up), reached through the MMU.
 */
export function bootLongMode(ramBytes = 64 * MiB): X86Vmm {
  return bootMachine({ ramBytes, cpus: 2, pmm: new BuddyPmm() }).vmm;
}
