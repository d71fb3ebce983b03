import fc from "fast-check";
import {
  AllocatorError,
  FailingPageSource,
  FlatMemory,
  FlatPageSource,
  ListHeap,
  MiB,
  PAGE_SIZE,
} from "@allockit/core";
import { describe, expect, it } from "vitest";
import { GuardHeap, GuardViolation, SamplingHeap } from "../src/index.js";
import { thrown } from "./helpers.js";
import { bootMachine, guardOnMachine } from "./machine.js";

function flatSampling(
  every: number,
  seed?: number,
): { sampling: SamplingHeap; guard: GuardHeap; list: ListHeap } {
  const source = new FlatPageSource(new FlatMemory(16 * MiB));
  const guard = new GuardHeap(source);
  const list = new ListHeap(source);
  const sampling = new SamplingHeap(list, guard, {
    every,
    ...(seed === undefined ? {} : { seed }),
  });
  return { sampling, guard, list };
}

describe("SamplingHeap", () => {
  it("guards every Nth allocation and routes size and free by address", () => {
    const { sampling, guard, list } = flatSampling(4);
    const ptrs = Array.from({ length: 12 }, (_, i) => sampling.heap_alloc(10 + i, 0));
    const guarded = ptrs.filter((p) => guard.heap_size(p) !== 0);
    expect(guarded).toEqual([ptrs[3], ptrs[7], ptrs[11]]);
    for (const [i, p] of ptrs.entries())
      expect(sampling.heap_size(p)).toBeGreaterThanOrEqual(10 + i);
    expect(sampling.stats()).toMatchObject({
      liveBlocks: 12,
      allocs: 12,
      extra: { sampled: 3, every: 4 },
    });
    for (const p of ptrs) sampling.heap_free(p);
    expect(guard.stats().liveBlocks + list.stats().liveBlocks).toBe(0);
    expect(sampling.stats()).toMatchObject({ liveBlocks: 0, liveBytes: 0, frees: 12 });
    sampling.check();
  });

  it("samples at random about one in N from a seed, the same way each time", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.integer({ min: 2, max: 8 }),
        (seed, every) => {
          const run = (): number[] => {
            const { sampling, guard } = flatSampling(every, seed);
            return Array.from({ length: 200 }, () => sampling.heap_alloc(8, 0)).map((p) =>
              guard.heap_size(p) !== 0 ? 1 : 0,
            );
          };
          const first = run();
          expect(run()).toEqual(first);
          const guarded = first.reduce((a: number, b) => a + b, 0);
          expect(guarded).toBeGreaterThan(200 / every / 4);
          expect(guarded).toBeLessThan((200 / every) * 2.5);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("reports a double free of a guarded object, and leaves other bad frees to the wrapped heap", () => {
    const { sampling } = flatSampling(1);
    const p = sampling.heap_alloc(24, 0);
    sampling.heap_free(p);
    const v = thrown(() => sampling.heap_free(p)) as GuardViolation;
    expect([v.kind, v.sequence]).toEqual(["double-free", 1]);
    const foreign = thrown(() => sampling.heap_free(2 ** 40)) as AllocatorError;
    expect(foreign).not.toBeInstanceOf(GuardViolation);
    expect(foreign.code).toBe("EFAULT");
    expect(sampling.stats().frees).toBe(1);
    sampling.check();
  });

  it("falls back to the wrapped heap when the guard heap cannot place an object", () => {
    const flat = new FlatPageSource(new FlatMemory(8 * MiB));
    const guard = new GuardHeap(new FailingPageSource(flat, { pageLimit: 2 }), {
      quarantinePages: 0,
    });
    const list = new ListHeap(flat);
    const sampling = new SamplingHeap(list, guard, { every: 1 });
    const ptrs = Array.from({ length: 4 }, () => sampling.heap_alloc(100, 0));
    expect(ptrs.every((p) => p !== 0)).toBe(true);
    expect(guard.stats().liveBlocks).toBe(1); // table page + one run
    expect(list.stats().liveBlocks).toBe(3);
    expect(sampling.stats()).toMatchObject({ allocs: 4, failedAllocs: 0, liveBlocks: 4 });
    for (const p of ptrs) sampling.heap_free(p);
    sampling.check();
  });

  it("takes the stricter alignment rules of the two heaps and checks arguments itself", () => {
    const { sampling } = flatSampling(2);
    expect(sampling.defaultAlign).toBe(16);
    expect(sampling.maxAlign).toBe(
      Math.min(new ListHeap(new FlatPageSource(new FlatMemory(PAGE_SIZE * 4))).maxAlign, 2 ** 21),
    );
    expect((thrown(() => sampling.heap_alloc(8, 3)) as AllocatorError).code).toBe("EINVAL");
    expect((thrown(() => sampling.heap_alloc(-1, 0)) as AllocatorError).code).toBe("EINVAL");
    expect(() => new SamplingHeap(sampling.wrapped, sampling.guard, { every: 0 })).toThrow(
      AllocatorError,
    );
    expect(sampling.stats().allocs).toBe(0);
  });

  it("turns faults in guarded objects into reports through its memory, on the machine", () => {
    const vmm = bootMachine();
    const { heap: guard } = guardOnMachine(vmm);
    const sampling = new SamplingHeap(new ListHeap(vmm.kernelHeap), guard, { every: 2 });
    const plain = sampling.heap_alloc(32, 0);
    const guarded = sampling.heap_alloc(32, 0);
    expect(guard.heap_size(guarded)).toBe(32);
    sampling.memory.write8(plain + 31, 1); // the plain block is reached through the same memory
    const v = thrown(() => sampling.memory.write8(guarded + 32, 1)) as GuardViolation;
    expect([v.kind, v.offset]).toEqual(["overflow", 0]);
    sampling.heap_free(guarded);
    expect((thrown(() => sampling.memory.read8(guarded)) as GuardViolation).kind).toBe(
      "use-after-free-read",
    );
    sampling.heap_free(plain);
    expect(sampling.dump()).toContain(
      "guard-sampling(list-heap): 1 in 2 allocation(s) guarded, 1 so far",
    );
    sampling.check();
  });
});
