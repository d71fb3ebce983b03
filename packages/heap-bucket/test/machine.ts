import { MiB, bootSystem } from "@allockit/core";
import { BuddyPmm } from "@allockit/pmm-buddy";
import { X86Vmm } from "@allockit/vmm";
import { Machine } from "@allockit/x86-machine";

/**
 * A two-CPU machine booted in long mode with the buddy PMM and the x86 VMM: the kernel heap
 * region lives at packed 48-bit addresses (0x9000_0000_0000 and up), reached through the MMU.
 */
export function bootLongMode(ramBytes = 64 * MiB): X86Vmm {
  const machine = new Machine({ ramBytes, cpus: 2 });
  const vmm = new X86Vmm({ mode: "long", access: "direct-map" });
  bootSystem({
    machine,
    memoryMap: machine.memoryMap,
    physical: machine.memory,
    pmm: new BuddyPmm(),
    vmm,
  });
  return vmm;
}
