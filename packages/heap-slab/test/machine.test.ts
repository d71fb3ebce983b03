import { describe, expect, it } from "vitest";
import { MiB } from "@allockit/core";
import { heapConformance, vmmHeapFactory } from "@allockit/conformance";
import { BuddyPmm } from "@allockit/pmm-buddy";
import { bootMachine } from "@allockit/vmm";
import type { VmmMode, X86Vmm } from "@allockit/vmm";
import { SlabHeap } from "@allockit/heap-slab";

/** A 64 MiB machine booted with the buddy PMM and the x86 VMM in `mode`. */
function bootVmm(mode: VmmMode): X86Vmm {
  return bootMachine({ ramBytes: 64 * MiB, mode, pmm: new BuddyPmm() }).vmm;
}

// Through page tables, the MMU and the TLB, at packed 48-bit kernel addresses (long mode), and
// with the default options (one empty slab kept per cache) in PAE.
heapConformance(
  "SlabHeap on the machine (long mode, kernel heap regions)",
  vmmHeapFactory((source) => new SlabHeap(source, { keepEmptySlabs: 0 }), {
    boot: () => bootVmm("long"),
  }),
);
heapConformance(
  "SlabHeap on the machine (PAE, default options)",
  vmmHeapFactory((source) => new SlabHeap(source), { boot: () => bootVmm("pae") }),
  { numRuns: 300 },
);

describe("SlabHeap on the machine", () => {
  it.each<VmmMode>(["long", "pae", "32bit"])(
    "keeps 64-bit links and headers intact at %s-mode kernel heap addresses",
    (mode) => {
      const vmm = bootVmm(mode);
      const heap = new SlabHeap(vmm.kernelHeap, { keepEmptySlabs: 0 });
      const cache = heap.createCache("task_struct", 1700, {
        ctor: (memory, addr) => memory.write32(addr, 0x7a5c),
      });
      const blocks = Array.from({ length: 40 }, (_, i) => heap.heap_alloc(24 + i * 97));
      const tasks = Array.from({ length: 10 }, () => heap.cacheAlloc(cache));
      if (mode === "long")
        for (const ptr of [...blocks, ...tasks]) expect(ptr).toBeGreaterThan(2 ** 47);
      for (const task of tasks) expect(heap.memory.read32(task)).toBe(0x7a5c);
      heap.check();
      for (const block of blocks.filter((_, i) => i % 2 === 0)) heap.heap_free(block);
      heap.check();
      for (const block of blocks.filter((_, i) => i % 2 === 1)) heap.heap_free(block);
      for (const task of tasks) heap.cacheFree(cache, task);
      heap.check();
      expect(vmm.kernelHeap.stats().pagesInUse).toBe(0);
    },
  );
});
