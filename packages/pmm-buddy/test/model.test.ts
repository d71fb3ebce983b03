import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MiB, PAGE_SIZE, isAllocatorError, type FrameConstraints, type Zone } from "@allockit/core";
import { boot, fuzzRuns } from "./helpers.js";

/** One step of a random run against the model. */
type Step =
  | { kind: "alloc"; count: number; constraints: FrameConstraints | undefined }
  | { kind: "free"; pick: number; offset: number; length: number }
  | { kind: "doubleFree"; pick: number }
  | { kind: "reserve"; base: number; frames: number };

const zoneArb = fc.constantFrom<Zone | undefined>(undefined, "DMA", "DMA32", "NORMAL");
const constraintsArb: fc.Arbitrary<FrameConstraints | undefined> = fc.option(
  fc.record(
    {
      zone: zoneArb,
      below: fc.option(
        fc.integer({ min: 1, max: 160 }).map((m) => m * MiB + (m % 3) * PAGE_SIZE),
        { nil: undefined },
      ),
      align: fc.option(
        fc.integer({ min: 12, max: 24 }).map((shift) => 2 ** shift),
        { nil: undefined },
      ),
      boundary: fc.option(
        fc.integer({ min: 18, max: 26 }).map((shift) => 2 ** shift),
        { nil: undefined },
      ),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("alloc" as const),
      count: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 1024 })),
      constraints: constraintsArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("free" as const),
      pick: fc.nat(),
      offset: fc.nat(),
      length: fc.nat(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("doubleFree" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("reserve" as const),
      base: fc.integer({ min: 0, max: 140 * MiB }),
      frames: fc.integer({ min: 1, max: 300 }),
    }),
  },
);

interface Run {
  start: number;
  count: number;
}

describe("BuddyPmm against a model (fast-check)", () => {
  it("random alloc / partial free / double free / reserve sequences keep every invariant", () => {
    fc.assert(
      fc.property(
        fc.array(stepArb, { maxLength: 60 }),
        fc.constantFrom(3, 10),
        (steps, maxOrder) => {
          const { pmm } = boot("qemu-i440fx-128m", { maxOrder });
          const allocated = new Set<number>();
          const runs: Run[] = [];
          let total = pmm.stats().totalFrames;
          for (const step of steps) {
            if (step.kind === "alloc") {
              const count = Math.min(step.count, 2 ** maxOrder);
              const c = step.constraints;
              if (c?.boundary !== undefined && c.boundary < count * PAGE_SIZE) continue;
              const addr = pmm.allocFrames(count, c);
              if (addr === 0) {
                // Out of memory is allowed only when the free count cannot cover it unconstrained.
                if (c === undefined) expect(pmm.stats().freeFrames).toBeLessThan(2 ** maxOrder);
                continue;
              }
              expect(addr % PAGE_SIZE).toBe(0);
              if (c?.align !== undefined) expect(addr % c.align).toBe(0);
              if (c?.below !== undefined)
                expect(addr + count * PAGE_SIZE).toBeLessThanOrEqual(c.below);
              if (c?.boundary !== undefined) {
                expect(Math.floor(addr / c.boundary)).toBe(
                  Math.floor((addr + count * PAGE_SIZE - 1) / c.boundary),
                );
              }
              if (c?.zone === "DMA") expect(addr + count * PAGE_SIZE).toBeLessThanOrEqual(16 * MiB);
              if (c?.zone === "DMA32") expect(addr).toBeGreaterThanOrEqual(16 * MiB);
              for (let i = 0; i < count; i++) {
                const frame = addr + i * PAGE_SIZE;
                expect(allocated.has(frame)).toBe(false);
                allocated.add(frame);
              }
              runs.push({ start: addr, count });
            } else if (step.kind === "free") {
              if (runs.length === 0) continue;
              const index = step.pick % runs.length;
              const run = runs[index]!;
              const offset = step.offset % run.count;
              const length = 1 + (step.length % (run.count - offset));
              pmm.freeFrames(run.start + offset * PAGE_SIZE, length);
              for (let i = 0; i < length; i++)
                allocated.delete(run.start + (offset + i) * PAGE_SIZE);
              runs.splice(index, 1);
              if (offset > 0) runs.push({ start: run.start, count: offset });
              if (offset + length < run.count) {
                runs.push({
                  start: run.start + (offset + length) * PAGE_SIZE,
                  count: run.count - offset - length,
                });
              }
            } else if (step.kind === "doubleFree") {
              const before = pmm.stats();
              const addr = pmm.allocFrames(1);
              if (addr === 0) continue;
              pmm.freeFrames(addr, 1);
              let code = "";
              try {
                pmm.freeFrames(addr, 1);
              } catch (error) {
                code = isAllocatorError(error) ? error.code : String(error);
              }
              expect(code).toBe("EDOUBLEFREE");
              expect(pmm.stats()).toEqual(before);
            } else {
              const base = step.base - (step.base % PAGE_SIZE);
              const frames = Array.from({ length: step.frames }, (_, i) => base + i * PAGE_SIZE);
              const clash = frames.some((f) => allocated.has(f));
              const freeBefore = pmm.stats().freeFrames;
              let code = "";
              try {
                pmm.reserve({ base, length: step.frames * PAGE_SIZE });
              } catch (error) {
                code = isAllocatorError(error) ? error.code : String(error);
              }
              expect(code).toBe(clash ? "EINVAL" : "");
              const taken = freeBefore - pmm.stats().freeFrames;
              expect(pmm.stats().totalFrames).toBe(total - taken);
              total -= taken;
            }
            const stats = pmm.stats();
            expect(stats.usedFrames).toBe(allocated.size);
            expect(stats.totalFrames).toBe(total);
            pmm.check();
          }
          for (const run of runs) pmm.freeFrames(run.start, run.count);
          expect(pmm.stats().freeFrames).toBe(total);
          pmm.check();
        },
      ),
      { numRuns: fuzzRuns(60) },
    );
  });
});
