import { vmmConformance } from "@allockit/conformance";
import type { VmmSystem } from "@allockit/conformance";
import { MiB, bootSystem } from "@allockit/core";
import type { PageTableAccess } from "@allockit/core";
import { StackPmm } from "@allockit/pmm-stack";
import { X86Vmm } from "@allockit/vmm";
import type { VmmMode } from "@allockit/vmm";
import { Machine } from "@allockit/x86-machine";

const MODES: readonly VmmMode[] = ["32bit", "pae", "long"];
const ACCESSES: readonly PageTableAccess[] = ["direct-map", "recursive", "window"];

/** A freshly booted two-CPU system: small RAM keeps a boot per sequence cheap. */
function bootX86(mode: VmmMode, access: PageTableAccess): VmmSystem {
  const machine = new Machine({ ramBytes: 32 * MiB, cpus: 2 });
  const pmm = new StackPmm();
  const vmm = new X86Vmm({ mode, access });
  bootSystem({ machine, memoryMap: machine.memoryMap, physical: machine.memory, pmm, vmm });
  return { machine, vmm, pmm };
}

// Each mode gets at least 1000 sequences, split over its three access strategies.
for (const mode of MODES) {
  for (const access of ACCESSES) {
    vmmConformance(`x86 vmm ${mode} ${access}`, () => bootX86(mode, access), {
      numRuns: Math.ceil(1000 / ACCESSES.length),
    });
  }
}
