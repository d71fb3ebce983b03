import { ListHeap, MiB } from "@allockit/core";
import { heapConformance, vmmHeapFactory } from "@allockit/conformance";
import { bootTestSystem } from "./system.js";

// Core's reference heap on the machine: every heap gets a fresh heap region of the kernel space,
// so its arenas are pages mapped by the VMM with frames from the PMM, reached through the MMU.
heapConformance(
  "ListHeap on the machine (long mode, buddy PMM)",
  vmmHeapFactory((source) => new ListHeap(source), {
    boot: () => bootTestSystem({ mode: "long", pmm: "buddy", ramBytes: 64 * MiB }).vmm,
  }),
);
heapConformance(
  "ListHeap on the machine (PAE, bitmap PMM, recursive page tables)",
  vmmHeapFactory((source) => new ListHeap(source, { arenaBytes: 4096 }), {
    boot: () =>
      bootTestSystem({ mode: "pae", pmm: "bitmap", access: "recursive", ramBytes: 64 * MiB }).vmm,
  }),
);
