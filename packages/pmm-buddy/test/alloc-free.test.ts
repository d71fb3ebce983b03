import { describe, expect, it } from "vitest";
import { GiB, MiB, PAGE_SIZE, managedRanges } from "@allockit/core";
import { allocateAllSingles, boot, shuffled } from "./helpers.js";

describe("BuddyPmm allocation and coalescing", () => {
  it("single frames come from NORMAL first, then DMA32, then DMA", () => {
    const { pmm } = boot("qemu-q35-4g");
    expect(pmm.allocFrames(1)).toBeGreaterThanOrEqual(4 * GiB);
    const { pmm: small } = boot("qemu-i440fx-128m");
    const first = small.allocFrames(1);
    expect(first).toBeGreaterThanOrEqual(16 * MiB);
  });

  it("freeing every single frame in random order coalesces back to the initial shape", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    const initial = pmm.freeBlocksPerOrder();
    const initialStats = pmm.stats();
    const frames = allocateAllSingles(pmm);
    expect(frames.length).toBe(initialStats.totalFrames);
    expect(new Set(frames).size).toBe(frames.length);
    expect(pmm.stats().freeFrames).toBe(0);
    expect(pmm.freeBlocksPerOrder().every((count) => count === 0)).toBe(true);
    pmm.check();
    const order = shuffled(frames);
    order.forEach((addr, i) => {
      pmm.freeFrames(addr, 1);
      if (i % 4096 === 0) pmm.check();
    });
    expect(pmm.freeBlocksPerOrder()).toEqual(initial);
    expect(pmm.stats()).toEqual(initialStats);
    pmm.check();
  });

  it("a run that is not a power of two returns its tail, and frees back whole", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    const initial = pmm.freeBlocksPerOrder();
    const before = pmm.stats().freeFrames;
    const addr = pmm.allocFrames(5);
    expect(addr % (8 * PAGE_SIZE)).toBe(0);
    expect(pmm.stats().freeFrames).toBe(before - 5);
    // Frames 5..7 of the order-3 block went back: 5 at order 0, 6-7 at order 1.
    expect(pmm.freeBlocksPerOrder()[0]).toBe(initial[0]! + 1);
    expect(pmm.freeBlocksPerOrder()[1]).toBe(initial[1]! + 1);
    pmm.check();
    pmm.freeFrames(addr, 5);
    expect(pmm.freeBlocksPerOrder()).toEqual(initial);
    expect(pmm.stats().freeFrames).toBe(before);
  });

  it("any sub-run of an allocation can be freed on its own, in any order", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    const initial = pmm.freeBlocksPerOrder();
    const addr = pmm.allocFrames(300);
    expect(addr).not.toBe(0);
    const pieces: Array<[number, number]> = [
      [7, 1],
      [100, 37],
      [0, 7],
      [299, 1],
      [8, 92],
      [137, 162],
    ];
    for (const [offset, count] of shuffled(pieces, 7)) {
      pmm.freeFrames(addr + offset * PAGE_SIZE, count);
      pmm.check();
    }
    expect(pmm.freeBlocksPerOrder()).toEqual(initial);
  });

  it("a free may span two allocations that happen to be adjacent", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    const initial = pmm.freeBlocksPerOrder();
    const a = pmm.allocFrames(2);
    const b = pmm.allocFrames(2);
    expect(Math.abs(b - a)).toBe(2 * PAGE_SIZE);
    pmm.freeFrames(Math.min(a, b), 4);
    expect(pmm.freeBlocksPerOrder()).toEqual(initial);
    pmm.check();
  });

  it("exhaustion returns 0, frees restore the count, and it allocates again", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    const total = pmm.stats().totalFrames;
    const big: number[] = [];
    for (let addr = pmm.allocFrames(1024); addr !== 0; addr = pmm.allocFrames(1024)) big.push(addr);
    const singles = allocateAllSingles(pmm);
    expect(big.length * 1024 + singles.length).toBe(total);
    expect(pmm.allocFrames(1)).toBe(0);
    expect(pmm.allocFrames(3, { zone: "DMA" })).toBe(0);
    expect(pmm.allocFrames(1, { below: 16 * MiB })).toBe(0);
    pmm.check();
    for (const addr of big) pmm.freeFrames(addr, 1024);
    for (const addr of singles) pmm.freeFrames(addr, 1);
    expect(pmm.stats().freeFrames).toBe(total);
    expect(pmm.allocFrames(1024)).not.toBe(0);
    pmm.check();
  });

  it("per-zone exhaustion: DMA runs out on its own, the others keep going", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    const dmaFrames = pmm.stats().zones.DMA.freeFrames;
    let got = 0;
    while (pmm.allocFrames(1, { zone: "DMA" }) !== 0) got++;
    expect(got).toBe(dmaFrames);
    expect(pmm.stats().zones.DMA.freeFrames).toBe(0);
    expect(pmm.allocFrames(1)).toBeGreaterThanOrEqual(16 * MiB);
    pmm.check();
  });

  it("zone limits that are not block-aligned: no block straddles them, even after coalescing", () => {
    const zoneLimits = { DMA: 16 * MiB + 12 * 1024, DMA32: 100 * MiB - 4096 };
    const { pmm } = boot("qemu-i440fx-128m", { zoneLimits, maxOrder: 14 });
    const initial = pmm.freeBlocksPerOrder();
    const initialStats = pmm.stats();
    const frames = allocateAllSingles(pmm);
    for (const addr of shuffled(frames, 3)) pmm.freeFrames(addr, 1);
    pmm.check();
    expect(pmm.freeBlocksPerOrder()).toEqual(initial);
    expect(pmm.stats()).toEqual(initialStats);
    const run = pmm.allocFrames(64, { zone: "DMA32" });
    expect(run).toBeGreaterThanOrEqual(zoneLimits.DMA);
    expect(run + 64 * PAGE_SIZE).toBeLessThanOrEqual(zoneLimits.DMA32);
    // Frees spanning the zone limit split there.
    const low = pmm.allocFrames(1, { zone: "DMA", align: 4096 });
    expect(low + PAGE_SIZE).toBeLessThanOrEqual(zoneLimits.DMA);
    pmm.check();
  });

  it("every frame handed out is managed RAM", () => {
    const { pmm, map, boot: bootAllocator } = boot("qemu-i440fx-128m");
    const managed = managedRanges(map, bootAllocator);
    const inManaged = (addr: number): boolean =>
      managed.some((r) => addr >= r.base && addr + PAGE_SIZE <= r.base + r.length);
    for (const addr of allocateAllSingles(pmm)) expect(inManaged(addr)).toBe(true);
  });
});

describe("BuddyPmm large pages", () => {
  it("2 MiB and 4 MiB pages are naturally aligned (maxOrder 10)", () => {
    const { pmm } = boot("qemu-q35-4g");
    for (const size of [2 * MiB, 4 * MiB]) {
      const frames = size / PAGE_SIZE;
      const addr = pmm.allocFrames(frames, { align: size });
      expect(addr).not.toBe(0);
      expect(addr % size).toBe(0);
      pmm.check();
      pmm.freeFrames(addr, frames);
    }
    expect(pmm.capabilities.pageSizes).toEqual([PAGE_SIZE, 2 * MiB, 4 * MiB]);
    expect(pmm.capabilities.maxContiguousFrames).toBe(1024);
  });

  it("1 GiB pages with maxOrder 18 on 64 GiB, without touching the pages", () => {
    const { pmm, ram } = boot("q35-64g", { maxOrder: 18 });
    const pages: number[] = [];
    for (let i = 0; i < 10; i++) {
      const addr = pmm.allocFrames(GiB / PAGE_SIZE, { align: GiB });
      expect(addr % GiB).toBe(0);
      expect(addr).toBeGreaterThanOrEqual(4 * GiB);
      pages.push(addr);
    }
    expect(new Set(pages).size).toBe(10);
    const smallPage = pmm.allocFrames(512, { align: 2 * MiB });
    expect(smallPage % (2 * MiB)).toBe(0);
    pmm.check();
    for (const addr of pages) pmm.freeFrames(addr, GiB / PAGE_SIZE);
    pmm.freeFrames(smallPage, 512);
    expect(pmm.freeBlocksPerOrder()[18]).toBe(62);
    expect(ram.touchedPages).toBeLessThan(300);
    pmm.check();
  });

  it("an alignment beyond the largest block is honoured by searching", () => {
    const { pmm } = boot("qemu-q35-4g");
    const addr = pmm.allocFrames(1, { align: 64 * MiB });
    expect(addr).not.toBe(0);
    expect(addr % (64 * MiB)).toBe(0);
    pmm.check();
    pmm.freeFrames(addr, 1);
    pmm.check();
  });
});
