import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { GiB, MiB, PAGE_SIZE, type PhysicalMemoryManager } from "@allockit/core";
import { BitmapPmm } from "@allockit/pmm-bitmap";
import { BuddyPmm } from "@allockit/pmm-buddy";
import { bootMachine, type VmmMode } from "@allockit/vmm";
import { BUCKET_FLAGS, BucketHeap } from "../src/index.js";

const { PHYSICAL, LOW1MEG, LOW16MEG, LOW4GIG, CLEAR } = BUCKET_FLAGS;

/** The flags a DMA request may carry, with the limit each one promises. */
const DMA_FLAGS = [
  { flags: LOW16MEG | PHYSICAL, limit: 16 * MiB },
  { flags: LOW16MEG, limit: 16 * MiB },
  { flags: LOW1MEG | PHYSICAL, limit: MiB },
  { flags: LOW4GIG | PHYSICAL, limit: 4 * GiB },
] as const;

function boot(mode: VmmMode, pmm: () => PhysicalMemoryManager) {
  const { machine, vmm } = bootMachine({ ramBytes: 96 * MiB, mode, pmm: pmm() });
  return { vmm, cpu: machine.cpus[0]! };
}

describe("LOW* | PHYSICAL allocations on the machine, translated page by page through the MMU", () => {
  for (const mode of ["32bit", "pae", "long"] as const) {
    for (const [pmmName, pmm] of [
      ["buddy", () => new BuddyPmm()],
      ["bitmap", () => new BitmapPmm()],
    ] as const) {
      it(`${mode}, ${pmmName}: physically contiguous and below the limit, every page`, () => {
        fc.assert(
          fc.property(
            fc.array(
              fc.record({
                kind: fc.nat(DMA_FLAGS.length - 1),
                size: fc.oneof(
                  fc.integer({ min: 1, max: 9000 }),
                  fc.integer({ min: 1, max: 200_000 }),
                ),
                align: fc.constantFrom(0, 64, 4096, 65536),
                free: fc.option(fc.nat(), { nil: undefined }),
              }),
              { minLength: 1, maxLength: 12 },
            ),
            (steps) => {
              const { vmm, cpu } = boot(mode, pmm);
              const heap = new BucketHeap(vmm.kernelHeap);
              const live: { ptr: number; size: number; limit: number }[] = [];
              for (const step of steps) {
                if (step.free !== undefined && live.length > 0)
                  heap.kfree(live.splice(step.free % live.length, 1)[0]!.ptr);
                const { flags, limit } = DMA_FLAGS[step.kind]!;
                const ptr = heap.kmalloc(step.size, step.align, flags | CLEAR, "dma");
                expect(ptr).not.toBe(0);
                live.push({ ptr, size: step.size, limit });
                // Every page of every live DMA block, through the CPU's page walk and TLB.
                for (const block of live) {
                  const first = cpu.translate(block.ptr);
                  const last = block.ptr + block.size - 1;
                  for (let va = block.ptr - (block.ptr % PAGE_SIZE); va <= last; va += PAGE_SIZE) {
                    const pa = cpu.translate(Math.max(va, block.ptr));
                    expect(pa - first).toBe(Math.max(va, block.ptr) - block.ptr);
                  }
                  expect(cpu.translate(last) + 1).toBeLessThanOrEqual(block.limit);
                }
              }
              heap.check();
              for (const block of live) heap.kfree(block.ptr);
              heap.check();
              vmm.check();
            },
          ),
          { numRuns: 15 },
        );
      });
    }
  }
});
