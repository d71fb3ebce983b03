import { describe, expect, it } from "vitest";
import {
  BumpBootAllocator,
  countFrames,
  framesPerZone,
  intersectRanges,
  type MemoryMap,
} from "@allockit/core";
import { BitmapPmm } from "@allockit/pmm-bitmap";
import { PhysicalRam, memoryMapPreset, qemuMemoryMap } from "@allockit/x86-machine";
import { GiB, KERNEL, MiB, PAGE, bootPmm, expectAllocatorError, metadataBlock } from "./helpers.js";

const MAPS: Array<[string, MemoryMap]> = [
  ["qemu-i440fx-128m", memoryMapPreset("qemu-i440fx-128m")],
  ["qemu-q35-4g", memoryMapPreset("qemu-q35-4g")],
  ["q35 64 GiB", qemuMemoryMap({ machine: "q35", ramBytes: 64 * GiB })],
];

describe.each(MAPS)("BitmapPmm.init over %s", (_name, map) => {
  it("manages exactly managedRanges(map, boot) after init, all of it free", () => {
    const booted = bootPmm(map);
    const { pmm, managed, boot } = booted;
    const frames = countFrames(managed);
    const stats = pmm.stats();
    expect(stats.freeFrames).toBe(frames);
    expect(stats.totalFrames).toBe(frames);
    expect(stats.usedFrames).toBe(0);
    const perZone = framesPerZone(managed);
    for (const zone of ["DMA", "DMA32", "NORMAL"] as const) {
      expect(stats.zones[zone]).toEqual({
        totalFrames: perZone[zone],
        freeFrames: perZone[zone],
        usedFrames: 0,
      });
    }
    expect(boot.capped).toBe(true);
    pmm.check();
  });

  it("keeps its metadata in boot-allocator frames outside managed RAM", () => {
    const booted = bootPmm(map);
    const block = metadataBlock(booted);
    expect(booted.pmm.stats().metadataBytes).toBe(block.length);
    expect(intersectRanges([block], booted.managed)).toEqual([]);
    expect(intersectRanges([block], [KERNEL])).toEqual([]);
  });

  it("declares contiguous runs, the four constraints and the large page sizes", () => {
    const { pmm } = bootPmm(map);
    const caps = pmm.capabilities;
    expect(caps.contiguous).toBe(true);
    expect([...caps.constraints].sort()).toEqual(["align", "below", "boundary", "zone"]);
    expect(caps.pageSizes).toEqual([PAGE, 2 * MiB, 4 * MiB, GiB]);
    expect(caps.maxContiguousFrames).toBeGreaterThan(0);
  });
});

describe("BitmapPmm.init cost", () => {
  it("touches a handful of pages for 64 GiB, with metadata proportional to RAM", () => {
    const map = qemuMemoryMap({ machine: "q35", ramBytes: 64 * GiB });
    const booted = bootPmm(map);
    // Two bitmaps of one bit per frame (taken, unmanaged) plus summaries: about 4 MiB.
    const stats = booted.pmm.stats();
    expect(stats.metadataBytes).toBeLessThan(4.2 * MiB);
    expect(stats.metadataBytes).toBeGreaterThan(4 * MiB);
    // Header, descriptors, the last word of each level, the unmanaged metadata frames.
    expect(booted.ram.touchedPages).toBeLessThan(16);
    booted.pmm.allocFrames(1);
    expect(booted.ram.touchedPages).toBeLessThan(20);
  });

  it("hands out a run as long as the largest region, and returns 0 for a longer one", () => {
    const map = qemuMemoryMap({ machine: "q35", ramBytes: 64 * GiB });
    const { pmm } = bootPmm(map);
    // RAM above 4 GiB: 62 GiB in one region. Capabilities do not depend on the machine.
    const largest = (62 * GiB) / PAGE;
    expect(pmm.capabilities.maxContiguousFrames).toBeGreaterThan(largest);
    expect(pmm.allocFrames(largest + 1)).toBe(0);
    expect(pmm.allocFrames(largest)).toBe(4 * GiB);
    expect(pmm.stats().zones.NORMAL.freeFrames).toBe(0);
    pmm.check();
  });
});

describe("BitmapPmm.init errors", () => {
  const map = memoryMapPreset("qemu-i440fx-128m");

  it("refuses to be used before init", () => {
    const pmm = new BitmapPmm();
    expectAllocatorError(() => pmm.allocFrames(1), "EINVAL", "before init");
    expectAllocatorError(() => pmm.freeFrames(0x1000, 1), "EINVAL", "before init");
    expectAllocatorError(() => pmm.reserve({ base: 0, length: PAGE }), "EINVAL", "before init");
    expect(pmm.stats().totalFrames).toBe(0);
  });

  it("refuses a second init", () => {
    const { pmm, ram } = bootPmm(map);
    const boot = new BumpBootAllocator(map);
    expectAllocatorError(() => pmm.init(map, boot, ram), "EINVAL", "already initialised");
  });

  it("refuses a boot allocator that is already capped", () => {
    const boot = new BumpBootAllocator(map, { reserved: [KERNEL] });
    boot.cap();
    expectAllocatorError(
      () => new BitmapPmm().init(map, boot, new PhysicalRam(map)),
      "EINVAL",
      "capped",
    );
  });

  it("does not cap again a boot allocator the caller capped", () => {
    const ram = new PhysicalRam(map);
    const boot = new BumpBootAllocator(map, { reserved: [KERNEL] });
    new BitmapPmm().init(map, boot, ram);
    expect(boot.capped).toBe(true);
    expect(boot.cap()).toEqual(boot.allocated());
  });

  it("checks its options: zone limits and policies", () => {
    expectAllocatorError(
      () => new BitmapPmm({ zoneLimits: { DMA: 32 * MiB, DMA32: 16 * MiB } }),
      "EINVAL",
      "zone limits",
    );
    expectAllocatorError(() => new BitmapPmm({ scrub: "sometimes" as never }), "EINVAL", "scrub");
  });

  it("honours custom zone limits", () => {
    const booted = bootPmm(map, { zoneLimits: { DMA: 8 * MiB, DMA32: 64 * MiB } });
    const perZone = framesPerZone(booted.managed, { DMA: 8 * MiB, DMA32: 64 * MiB });
    const stats = booted.pmm.stats();
    expect(stats.zones.DMA.totalFrames).toBe(perZone.DMA);
    expect(stats.zones.NORMAL.totalFrames).toBe(perZone.NORMAL);
    expect(perZone.NORMAL).toBeGreaterThan(0);
    const addr = booted.pmm.allocFrames(1);
    expect(addr).toBeGreaterThanOrEqual(64 * MiB);
  });
});
