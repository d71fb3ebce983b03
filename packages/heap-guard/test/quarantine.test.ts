import { PAGE_SIZE, isAccessFault } from "@allockit/core";
import { describe, expect, it } from "vitest";
import { GuardViolation } from "../src/index.js";
import type { GuardHeap } from "../src/index.js";
import { bootMachine, guardOnMachine } from "./machine.js";
import { thrown } from "./helpers.js";

const runOf = (ptr: number): number => ptr - (ptr % PAGE_SIZE);

function allocMany(heap: GuardHeap, count: number, size = 24): number[] {
  return Array.from({ length: count }, (_, i) => heap.guardAlloc(size, 0, { tag: `q${i}` }));
}

describe("quarantine (FIFO of freed runs) on the machine", () => {
  it("does not hand out a quarantined address until it is evicted, oldest first", () => {
    const vmm = bootMachine();
    const { heap, source } = guardOnMachine(vmm, { quarantinePages: 4 });
    const keep = heap.heap_alloc(24, 0); // keeps the record table alive throughout
    const freed = allocMany(heap, 4);
    for (const ptr of freed) heap.heap_free(ptr);
    expect(source.quarantinedPages).toBe(4);
    expect(heap.stats().extra?.quarantinedObjects).toBe(4);
    const quarantinedRuns = new Set(freed.map(runOf));

    // Fresh allocations go elsewhere while the four runs are quarantined.
    const fresh = allocMany(heap, 4);
    for (const ptr of fresh) expect(quarantinedRuns.has(runOf(ptr))).toBe(false);

    // One more free evicts the oldest range (freed[0]) from both the source and the records.
    heap.heap_free(fresh[0]!);
    expect(source.quarantinedPages).toBe(4);
    const space = vmm.kernelSpace;
    expect(space.regionAt(runOf(freed[0]!))).toBeUndefined();
    for (const ptr of freed.slice(1)) expect(space.regionAt(ptr)?.name).toBe(source.quarantineName);
    expect(heap.objectAt(freed[0]!)).toBeUndefined();
    expect(heap.objectAt(freed[1]!)?.tag).toBe("q1");

    // The evicted range, guards and all, is the lowest gap: the next run reuses it.
    const reused = heap.guardAlloc(100, 0);
    expect(runOf(reused)).toBe(runOf(freed[0]!));
    heap.check();
    source.check();
    for (const ptr of [keep, reused, ...fresh.slice(1)]) heap.heap_free(ptr);
    heap.check();
    source.check();
  });

  it("evicts by pages: a multi-page object counts its pages", () => {
    const vmm = bootMachine();
    const { heap, source } = guardOnMachine(vmm, { quarantinePages: 5 });
    heap.heap_alloc(8, 0); // keeps the record table (whose pages would be quarantined too)
    const big = heap.guardAlloc(3 * PAGE_SIZE, 0, { tag: "big" });
    const small = heap.guardAlloc(PAGE_SIZE + 1, 0, { tag: "small" });
    const last = heap.guardAlloc(2 * PAGE_SIZE, 0, { tag: "last" });
    heap.heap_free(big);
    heap.heap_free(small);
    expect([source.quarantinedPages, heap.stats().extra?.quarantinedPages]).toEqual([5, 5]);
    heap.heap_free(last); // 5 + 2 > 5: "big" goes, 2 + 2 = 4 stay
    expect([source.quarantinedPages, source.quarantinedRanges]).toEqual([4, 2]);
    expect(heap.objectAt(big)).toBeUndefined();
    expect(heap.objectAt(small)?.tag).toBe("small");
    expect(heap.objectAt(last)?.freedAs).toBe(3);
    heap.check();
    source.check();
  });

  it("reports use after free while quarantined, and no longer once evicted (documented)", () => {
    const vmm = bootMachine();
    const { heap } = guardOnMachine(vmm, { quarantinePages: 2 });
    const keep = heap.heap_alloc(8, 0);
    const [a, b, c] = allocMany(heap, 3, 64);
    heap.heap_free(a!);
    const inQuarantine = thrown(() => heap.memory.read32(a!));
    expect(inQuarantine).toBeInstanceOf(GuardViolation);
    expect((inQuarantine as GuardViolation).kind).toBe("use-after-free-read");
    heap.heap_free(b!);
    heap.heap_free(c!); // a is evicted: its range is released, its record dropped
    const evicted = thrown(() => heap.memory.read32(a!));
    expect(evicted).not.toBeInstanceOf(GuardViolation);
    expect(isAccessFault(evicted)).toBe(true);
    // Once the addresses are handed out again, the stale pointer reads the new object.
    const reuse = heap.guardAlloc(64, 0);
    expect(runOf(reuse)).toBe(runOf(a!));
    heap.memory.write32(reuse, 0x12345678);
    expect(heap.memory.read32(a!)).toBe(0x12345678);
    heap.heap_free(reuse);
    heap.heap_free(keep);
    heap.check();
  });

  it("recognises a double free while the record is quarantined, an invalid free after", () => {
    const vmm = bootMachine();
    const { heap } = guardOnMachine(vmm, { quarantinePages: 1 });
    const [a, b] = allocMany(heap, 2, 40);
    heap.heap_free(a!);
    const twice = thrown(() => heap.heap_free(a!)) as GuardViolation;
    expect([twice.kind, twice.code, twice.sequence, twice.object?.freedAs]).toEqual([
      "double-free",
      "EDOUBLEFREE",
      1,
      1,
    ]);
    heap.heap_free(b!); // evicts a's record
    const later = thrown(() => heap.heap_free(a!)) as GuardViolation;
    expect([later.kind, later.code, later.sequence]).toEqual(["invalid-free", "EFAULT", 0]);
    expect(later.report).toContain("not in any guarded object");
    heap.check();
  });

  it("with quarantinePages 0 releases freed runs at once and keeps no records", () => {
    const vmm = bootMachine();
    const { heap, source } = guardOnMachine(vmm, { quarantinePages: 0 });
    const regionsBefore = vmm.kernelSpace.stats().regions;
    const a = heap.heap_alloc(24, 0);
    const b = heap.heap_alloc(5000, 64);
    heap.heap_free(a);
    heap.heap_free(b);
    expect(source.quarantinedPages).toBe(0);
    expect(heap.stats().footprintBytes).toBe(0);
    expect(vmm.kernelSpace.stats().regions).toBe(regionsBefore);
    expect((thrown(() => heap.heap_free(a)) as GuardViolation).kind).toBe("invalid-free");
    heap.check();
    source.check();
  });
});
