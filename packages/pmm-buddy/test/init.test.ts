import { describe, expect, it } from "vitest";
import {
  BumpBootAllocator,
  GiB,
  MiB,
  PAGE_SIZE,
  countFrames,
  framesPerZone,
  managedRanges,
} from "@allockit/core";
import { BuddyPmm } from "@allockit/pmm-buddy";
import { PhysicalRam } from "@allockit/x86-machine";
import { KERNEL, boot, expectAllocatorError, machineMap, type MachineName } from "./helpers.js";

const MACHINES: MachineName[] = ["qemu-i440fx-128m", "qemu-q35-4g", "q35-64g"];

describe("BuddyPmm init", () => {
  for (const name of MACHINES) {
    it(`${name}: frees exactly the managed frames, per zone, and caps the boot allocator`, () => {
      const { pmm, boot: bootAllocator, map } = boot(name);
      const managed = managedRanges(map, bootAllocator);
      const stats = pmm.stats();
      expect(bootAllocator.capped).toBe(true);
      expect(stats.totalFrames).toBe(countFrames(managed));
      expect(stats.freeFrames).toBe(countFrames(managed));
      expect(stats.usedFrames).toBe(0);
      const perZone = framesPerZone(managed);
      for (const zone of ["DMA", "DMA32", "NORMAL"] as const) {
        expect(stats.zones[zone]).toEqual({
          totalFrames: perZone[zone],
          freeFrames: perZone[zone],
          usedFrames: 0,
        });
      }
      // The metadata is what the boot allocator handed out, whole pages.
      const handedOut = bootAllocator.allocated().reduce((sum, r) => sum + r.length, 0);
      expect(stats.metadataBytes).toBe(handedOut);
      pmm.check();
    });
  }

  it("seeds maximal naturally aligned blocks: almost everything sits at the top order", () => {
    const { pmm } = boot("qemu-q35-4g");
    const blocks = pmm.freeBlocksPerOrder();
    expect(blocks).toHaveLength(11);
    const frames = blocks.reduce((sum, count, order) => sum + count * 2 ** order, 0);
    expect(frames).toBe(pmm.stats().freeFrames);
    expect(blocks[10]! * 1024).toBeGreaterThan(0.99 * frames);
    // Each range edge adds at most one block per order on each side.
    for (let order = 0; order < 10; order++) expect(blocks[order]).toBeLessThanOrEqual(12);
  });

  it("64 GiB: touches a bounded number of pages (no link in every block)", () => {
    const { pmm, ram } = boot("q35-64g");
    expect(pmm.stats().freeFrames).toBeGreaterThan(16_000_000);
    // Bitmaps near the holes, the top-order bitmap, the links of the edge blocks.
    expect(ram.touchedPages).toBeLessThan(200);
  });

  it("64 GiB with 1 GiB blocks: 62 top-order blocks, still sparse", () => {
    const { pmm, ram } = boot("q35-64g", { maxOrder: 18 });
    expect(pmm.freeBlocksPerOrder()[18]).toBe(62);
    expect(pmm.capabilities.pageSizes).toEqual([PAGE_SIZE, 2 * MiB, 4 * MiB, GiB]);
    expect(ram.touchedPages).toBeLessThan(200);
    pmm.check();
  });

  it("takes no frame from a hole, the kernel or frame 0", () => {
    const { pmm } = boot();
    const blocks = pmm.freeBlocksPerOrder();
    expect(blocks.length).toBe(11);
    const kernel = [KERNEL.base, KERNEL.base + KERNEL.length - PAGE_SIZE];
    const taken = new Set<number>();
    for (let addr = pmm.allocFrames(1); addr !== 0; addr = pmm.allocFrames(1)) taken.add(addr);
    expect(taken.has(0)).toBe(false);
    for (const addr of kernel) expect(taken.has(addr)).toBe(false);
    expect(taken.has(0xa0000)).toBe(false);
    expect(taken.has(0x9f000)).toBe(false); // the page holding the EBDA
    expect(taken.size).toBe(pmm.stats().totalFrames);
  });

  it("refuses a second init and use before init", () => {
    const { pmm, map } = boot();
    const ram = new PhysicalRam(map);
    expectAllocatorError(() => pmm.init(map, new BumpBootAllocator(map), ram), "EINVAL", "already");
    const fresh = new BuddyPmm();
    expectAllocatorError(() => fresh.allocFrames(1), "EINVAL", "before init");
    expectAllocatorError(() => fresh.freeFrames(0x200000, 1), "EINVAL", "before init");
    expectAllocatorError(() => fresh.reserve({ base: 0, length: 4096 }), "EINVAL", "before init");
    expect(fresh.stats().totalFrames).toBe(0);
    fresh.check();
  });

  it("keeps metadata the caller already capped out of the managed frames when it caps itself", () => {
    const map = machineMap("qemu-i440fx-128m");
    const ram = new PhysicalRam(map);
    const bootAllocator = new BumpBootAllocator(map, { reserved: [KERNEL] });
    const early = bootAllocator.allocFrames(3);
    const pmm = new BuddyPmm();
    pmm.init(map, bootAllocator, ram);
    const taken = new Set<number>();
    for (let addr = pmm.allocFrames(1); addr !== 0; addr = pmm.allocFrames(1)) taken.add(addr);
    for (let i = 0; i < 3; i++) expect(taken.has(early + i * PAGE_SIZE)).toBe(false);
    for (const range of bootAllocator.allocated()) {
      for (let at = range.base; at < range.base + range.length; at += PAGE_SIZE) {
        expect(taken.has(at)).toBe(false);
      }
    }
  });

  it("rejects bad options with EINVAL naming the value", () => {
    expectAllocatorError(() => new BuddyPmm({ maxOrder: 19 }), "EINVAL", "maxOrder 19");
    expectAllocatorError(() => new BuddyPmm({ maxOrder: 2.5 }), "EINVAL", "2.5");
    expectAllocatorError(() => new BuddyPmm({ scrub: "always" as never }), "EINVAL", '"always"');
    expectAllocatorError(
      () => new BuddyPmm({ zoneLimits: { DMA: 32 * MiB, DMA32: 16 * MiB } }),
      "EINVAL",
      "zone limits",
    );
  });
});
