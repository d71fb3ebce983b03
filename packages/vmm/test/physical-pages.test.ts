import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MiB, PAGE_SIZE, isAllocatorError } from "@allockit/core";
import { MODES, bootTestSystem, type PmmName } from "./system.js";

const CONTIGUOUS_PMMS: readonly PmmName[] = ["buddy", "bitmap"];

/** Every page of [addr, addr + pages) translated through the MMU: one contiguous run, or -1. */
function physicalRun(translate: (va: number) => number, addr: number, pages: number): number {
  const first = translate(addr);
  for (let i = 1; i < pages; i++) {
    if (translate(addr + i * PAGE_SIZE) !== first + i * PAGE_SIZE) return -1;
  }
  return first;
}

describe("heap PageSource: physically contiguous runs", () => {
  for (const mode of MODES) {
    for (const pmm of CONTIGUOUS_PMMS) {
      it(`${mode}, ${pmm}: runs below 1 MiB / 16 MiB / 4 GiB are contiguous, zeroed, below the limit and go back`, () => {
        const { vmm, machine } = bootTestSystem({ mode, pmm, ramBytes: 64 * MiB });
        const source = vmm.kernelHeap;
        expect(source.physicalConstraints?.has("below")).toBe(true);
        const space = vmm.kernelSpace;
        const freeBefore = vmm.pmm.stats().freeFrames;
        const cases = [
          { below: MiB, pages: 3 },
          { below: 16 * MiB, pages: 17 },
          { below: 4096 * MiB, pages: 5 },
        ];
        const runs: { addr: number; pages: number }[] = [];
        for (const { below, pages } of cases) {
          const addr = source.allocPages(pages, { physical: { below } });
          expect(addr).not.toBe(0);
          const pa = physicalRun((va) => space.translate(va), addr, pages);
          expect(pa).toBeGreaterThan(0);
          expect(pa + pages * PAGE_SIZE).toBeLessThanOrEqual(below);
          expect(source.translate!(addr)).toBe(pa);
          // Zeroed, and reachable through the MMU at the run's virtual address.
          expect(vmm.memory.readBytes(addr, pages * PAGE_SIZE).every((b) => b === 0)).toBe(true);
          vmm.memory.write32(addr + pages * PAGE_SIZE - 4, 0xfeedface);
          expect(machine.memory.read32(pa + pages * PAGE_SIZE - 4)).toBe(0xfeedface);
          runs.push({ addr, pages });
        }
        vmm.check();
        for (const { addr, pages } of runs) source.freePages(addr, pages);
        vmm.check();
        vmm.pmm.check();
        expect(vmm.pmm.stats().freeFrames).toBe(freeBefore);
      });
    }
  }

  it("returns 0 and leaks nothing when no run satisfies the constraint", () => {
    const { vmm } = bootTestSystem({ mode: "pae", pmm: "buddy", ramBytes: 64 * MiB });
    const freeBefore = vmm.pmm.stats().freeFrames;
    // Below 1 MiB there are fewer than 256 frames in all.
    expect(vmm.kernelHeap.allocPages(256, { physical: { below: MiB } })).toBe(0);
    expect(vmm.kernelHeap.stats().failedCalls).toBe(1);
    vmm.check();
    expect(vmm.pmm.stats().freeFrames).toBe(freeBefore);
  });

  it("refuses physical requests with EUNSUPPORTED over a PMM without contiguous runs", () => {
    const { vmm } = bootTestSystem({ pmm: "stack" });
    expect(vmm.kernelHeap.physicalConstraints).toBeUndefined();
    let error: unknown;
    try {
      vmm.kernelHeap.allocPages(2, { physical: { below: 16 * MiB } });
    } catch (thrown) {
      error = thrown;
    }
    expect(isAllocatorError(error) && error.code === "EUNSUPPORTED").toBe(true);
    expect((error as Error).message).toMatch(/pmm-stack|stack/);
    vmm.check();
  });

  it("keeps the VMM and PMM consistent over random mixes of plain and physical runs", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            pages: fc.integer({ min: 1, max: 24 }),
            below: fc.constantFrom(undefined, MiB, 16 * MiB, 32 * MiB),
            freeIndex: fc.option(fc.nat(), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        (steps) => {
          const { vmm } = bootTestSystem({ mode: "long", pmm: "buddy", ramBytes: 48 * MiB });
          const source = vmm.kernelHeap;
          const freeBefore = vmm.pmm.stats().freeFrames;
          const live: { addr: number; pages: number; below: number | undefined }[] = [];
          for (const step of steps) {
            if (step.freeIndex !== undefined && live.length > 0) {
              const [run] = live.splice(step.freeIndex % live.length, 1);
              source.freePages(run!.addr, run!.pages);
            }
            const addr = source.allocPages(
              step.pages,
              step.below === undefined ? {} : { physical: { below: step.below } },
            );
            if (addr === 0) continue;
            live.push({ addr, pages: step.pages, below: step.below });
            for (const run of live) {
              if (run.below === undefined) continue;
              const pa = physicalRun((va) => vmm.kernelSpace.translate(va), run.addr, run.pages);
              expect(pa).toBeGreaterThan(0);
              expect(pa + run.pages * PAGE_SIZE).toBeLessThanOrEqual(run.below);
            }
            vmm.check();
          }
          for (const run of live) source.freePages(run.addr, run.pages);
          vmm.check();
          vmm.pmm.check();
          expect(vmm.pmm.stats().freeFrames).toBe(freeBefore);
        },
      ),
      { numRuns: 40 },
    );
  });
});
