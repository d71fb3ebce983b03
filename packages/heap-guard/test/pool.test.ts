import { AllocatorError, PAGE_SIZE, isAccessFault } from "@allockit/core";
import { describe, expect, it } from "vitest";
import { GuardPageSource, GuardViolation } from "../src/index.js";
import { thrown } from "./helpers.js";
import { bootMachine, guardOnMachine } from "./machine.js";

describe("GuardPageSource pool", () => {
  const vmm = bootMachine();
  const space = vmm.kernelSpace;
  const memory = vmm.memory;

  /** Whether `addr` is an object page of the source's pool. */
  function inPool(source: GuardPageSource, addr: number): boolean {
    const [start, end] = source.poolRange;
    return addr >= start && addr < end && ((addr - start) / PAGE_SIZE) % 2 === 1;
  }

  it("reserves the pool on the first one-page run, object pages between guard pages", () => {
    const source = new GuardPageSource(space, memory, { poolSlots: 8, quarantinePages: 4 });
    expect(source.poolRange).toEqual([0, 0]);
    const run = source.allocPages(1);
    const [start, end] = source.poolRange;
    expect(end - start).toBe(17 * PAGE_SIZE);
    expect(run).toBe(start + PAGE_SIZE);
    expect(space.regionAt(run)).toMatchObject({ name: source.runName, kind: "anonymous" });
    expect(space.regionAt(run)?.committedPages).toBe(1);
    for (const guard of [run - PAGE_SIZE, run + PAGE_SIZE]) {
      expect(space.regionAt(guard)).toMatchObject({ name: source.poolName, kind: "guard" });
      expect(isAccessFault(thrown(() => memory.read8(guard)))).toBe(true);
    }
    memory.write32(run + PAGE_SIZE - 4, 7);
    expect(memory.read32(run + PAGE_SIZE - 4)).toBe(7);
    expect(source.isInUse(run)).toBe(true);
    expect(source.isInUse(run + PAGE_SIZE)).toBe(false);
    expect(source.poolUsage).toEqual({ free: 7, inUse: 1, quarantined: 0 });
    expect(source.stats()).toMatchObject({ pagesInUse: 1, allocCalls: 1 });
    source.check();
    // Larger, aligned or uncommitted runs take reservations of their own.
    for (const big of [
      source.allocPages(2),
      source.allocPages(1, { align: 2 * PAGE_SIZE }),
      source.allocPages(1, { commit: false }),
    ]) {
      expect(big).not.toBe(0);
      expect(big >= start && big < end).toBe(false);
      expect(space.regionAt(big - PAGE_SIZE)?.name).toBe(source.guardName);
    }
    source.check();
    source.destroy();
    expect(space.regions().filter((r) => r.name.startsWith(source.poolName))).toEqual([]);
  });

  it("quarantines freed slots (faulting) and takes them again once released", () => {
    const source = new GuardPageSource(space, memory, { poolSlots: 4, quarantinePages: 2 });
    const a = source.allocPages(1);
    const b = source.allocPages(1);
    expect(inPool(source, a) && inPool(source, b)).toBe(true);
    source.freePages(a, 1);
    expect(space.regionAt(a)).toMatchObject({ name: source.poolName, kind: "guard" });
    expect(isAccessFault(thrown(() => memory.write8(a, 1)))).toBe(true);
    expect(source.isInUse(a)).toBe(false);
    const c = source.allocPages(1);
    expect(c).not.toBe(a); // a is quarantined
    expect(source.poolUsage).toEqual({ free: 1, inUse: 2, quarantined: 1 });
    source.freePages(b, 1);
    source.freePages(c, 1); // the budget of 2 pages: a leaves the quarantine
    expect([source.quarantinedRanges, source.quarantinedPages]).toEqual([2, 2]);
    expect(source.poolUsage).toEqual({ free: 2, inUse: 0, quarantined: 2 });
    source.check();
    // The slot released last is taken first; its page is mapped again, zeroed.
    const again = source.allocPages(1);
    expect(again).toBe(a);
    expect(memory.read32(a)).toBe(0);
    source.check();
    source.flushQuarantine();
    expect(source.poolUsage).toEqual({ free: 3, inUse: 1, quarantined: 0 });
    source.check();
    source.destroy();
  });

  it("falls back to a reservation of its own when every slot is taken", () => {
    const source = new GuardPageSource(space, memory, { poolSlots: 2, quarantinePages: 1 });
    const a = source.allocPages(1);
    const b = source.allocPages(1);
    source.freePages(a, 1); // quarantined: still taken
    const c = source.allocPages(1);
    expect([inPool(source, a), inPool(source, b), inPool(source, c)]).toEqual([true, true, false]);
    expect(space.regionAt(c - PAGE_SIZE)?.name).toBe(source.guardName);
    expect(space.regionAt(c + PAGE_SIZE)?.name).toBe(source.guardName);
    expect(source.stats()).toMatchObject({ pagesInUse: 2, failedCalls: 0 });
    source.check();
    source.freePages(c, 1); // releases a from the quarantine, keeps c
    const d = source.allocPages(1);
    expect(d).toBe(a);
    source.freePages(b, 1);
    source.freePages(d, 1);
    source.flushQuarantine();
    source.check();
    expect(source.stats().pagesInUse).toBe(0);
    source.destroy();
  });

  it("refuses bad frees of pool pages with typed errors, changing nothing", () => {
    const source = new GuardPageSource(space, memory, { poolSlots: 4 });
    const run = source.allocPages(1);
    for (const [addr, pages] of [
      [run - PAGE_SIZE, 1], // the guard page before it
      [run + 2 * PAGE_SIZE, 1], // a free slot
      [run, 2], // more than the slot
      [run + 8, 1], // not page-aligned
    ] as const) {
      const error = thrown(() => source.freePages(addr, pages)) as AllocatorError;
      expect([error.code, error.message]).toEqual([
        "EFAULT",
        expect.stringContaining(String(addr)),
      ]);
    }
    source.check();
    source.freePages(run, 1);
    expect((thrown(() => source.freePages(run, 1)) as AllocatorError).code).toBe("EFAULT");
    source.check();
    source.destroy();
  });

  it("counts pool pages against the page limit", () => {
    const source = new GuardPageSource(space, memory, { poolSlots: 8, pageLimit: 2 });
    expect(source.allocPages(1)).not.toBe(0);
    expect(source.allocPages(1)).not.toBe(0);
    expect(source.allocPages(1)).toBe(0);
    expect(source.stats()).toMatchObject({ pagesInUse: 2, failedCalls: 1 });
    source.destroy();
  });

  it("check() notices a pool page that changed behind its back", () => {
    const source = new GuardPageSource(space, memory, { poolSlots: 4 });
    const run = source.allocPages(1);
    space.unmap(run + PAGE_SIZE, PAGE_SIZE); // a guard page of the pool
    expect((thrown(() => source.check()) as AllocatorError).code).toBe("ECORRUPT");
    source.destroy();
  });
});

describe("GuardHeap over a pooled GuardPageSource", () => {
  const vmm = bootMachine();

  it("catches overflow and underflow in the pool's guard pages", () => {
    const { heap, source } = guardOnMachine(vmm, { quarantinePages: 8 }, { poolSlots: 16 });
    const right = heap.guardAlloc(32, 0, { tag: "right" });
    const left = heap.guardAlloc(32, 0, { mode: "left", tag: "left" });
    expect(source.isInUse(right) && source.isInUse(left)).toBe(true);
    const [start, end] = source.poolRange;
    expect(right >= start && right < end && left >= start && left < end).toBe(true);
    const over = thrown(() => heap.memory.write8(right + 32, 1)) as GuardViolation;
    expect([over.kind, over.offset, over.object?.tag]).toEqual(["overflow", 0, "right"]);
    const under = thrown(() => heap.memory.read8(left - 1)) as GuardViolation;
    expect([under.kind, under.offset, under.object?.tag]).toEqual(["underflow", -1, "left"]);
    heap.heap_free(right);
    heap.heap_free(left);
    heap.check();
    source.check();
  });

  it("reports use after free of a pooled object, and double and invalid frees", () => {
    const { heap, source } = guardOnMachine(vmm, { quarantinePages: 8 }, { poolSlots: 16 });
    const p = heap.guardAlloc(100, 0, { tag: "pooled" });
    heap.memory.write32(p, 0x1234);
    heap.heap_free(p);
    const read = thrown(() => heap.memory.read32(p)) as GuardViolation;
    expect([read.kind, read.object?.tag]).toEqual(["use-after-free-read", "pooled"]);
    const write = thrown(() => heap.memory.write8(p + 99, 1)) as GuardViolation;
    expect(write.kind).toBe("use-after-free-write");
    const twice = thrown(() => heap.heap_free(p)) as GuardViolation;
    expect([twice.kind, twice.code]).toEqual(["double-free", "EDOUBLEFREE"]);
    const q = heap.heap_alloc(100, 0);
    const inside = thrown(() => heap.heap_free(q + 8)) as GuardViolation;
    expect([inside.kind, inside.address, inside.message]).toEqual([
      "invalid-free",
      q + 8,
      expect.stringContaining("8B into guarded-#2"),
    ]);
    expect(heap.heap_size(q)).toBe(100);
    heap.check();
    source.check();
    heap.heap_free(q);
    expect(heap.stats()).toMatchObject({ liveBlocks: 0, frees: 2 });
    heap.check();
    source.check();
  });

  it("reuses slots after the quarantine, and keeps reporting on the newest object", () => {
    const { heap, source } = guardOnMachine(vmm, { quarantinePages: 2 }, { poolSlots: 8 });
    const seen = new Set<number>();
    let last = 0;
    for (let i = 0; i < 40; i++) {
      const p = heap.heap_alloc(24, 0);
      expect(p).not.toBe(0);
      seen.add(p);
      heap.memory.write8(p, i);
      heap.heap_free(p);
      last = p;
    }
    // The ring, the table (released and taken again each time) and the objects share 8 slots.
    expect(seen.size).toBeLessThanOrEqual(8);
    expect(source.poolUsage.inUse).toBe(1);
    expect((thrown(() => heap.memory.read8(last)) as GuardViolation).kind).toBe(
      "use-after-free-read",
    );
    expect(heap.stats().extra).toMatchObject({ quarantinedObjects: 2, objectPages: 0 });
    heap.check();
    source.check();
  });

  it("keeps working when the pool is used up, the rest in reservations of their own", () => {
    const { heap, source } = guardOnMachine(vmm, { quarantinePages: 4 }, { poolSlots: 4 });
    const ptrs = Array.from({ length: 12 }, () => heap.heap_alloc(32, 0));
    expect(ptrs.every((p) => p !== 0)).toBe(true);
    const [start, end] = source.poolRange;
    const pooled = ptrs.filter((p) => p >= start && p < end);
    expect(pooled.length).toBe(2); // the quarantine ring and the record table took two slots
    const last = ptrs[11]!;
    expect((thrown(() => heap.memory.write8(last + 32, 1)) as GuardViolation).kind).toBe(
      "overflow",
    );
    for (const p of ptrs) heap.heap_free(p);
    heap.check();
    source.check();
    expect(heap.stats()).toMatchObject({ liveBlocks: 0, allocs: 12, frees: 12 });
  });
});
