import { describe, expect, it } from "vitest";
import {
  BumpBootAllocator,
  DEFAULT_ZONE_LIMITS,
  GiB,
  MiB,
  PAGE_SIZE,
  countFrames,
  framesPerZone,
  type BootAllocator,
  type MemoryMap,
} from "@allockit/core";
import { StackPmm } from "@allockit/pmm-stack";
import { PhysicalRam, memoryMapPreset, qemuMemoryMap } from "@allockit/x86-machine";
import { KERNEL, LAYOUTS, allocateAll, errorCode, isManaged, machine } from "./helpers.js";

const PRESETS = ["qemu-i440fx-128m", "qemu-q35-4g", "qemu-i440fx-8g"];

describe.each(LAYOUTS)("init (%s links)", (framesPerLink) => {
  it.each(PRESETS)("%s: free frames = managed frames, per zone too", (preset) => {
    const { pmm, boot, managed } = machine(preset, { framesPerLink });
    expect(boot.capped).toBe(true);
    const stats = pmm.stats();
    expect(stats.totalFrames).toBe(countFrames(managed));
    expect(stats.freeFrames).toBe(stats.totalFrames);
    expect(stats.usedFrames).toBe(0);
    const perZone = framesPerZone(managed);
    for (const zone of ["DMA", "DMA32", "NORMAL"] as const) {
      expect(stats.zones[zone]).toEqual({
        totalFrames: perZone[zone],
        freeFrames: perZone[zone],
        usedFrames: 0,
      });
    }
    // The metadata came from the boot allocator, so it is no longer managed.
    const metadata = boot.allocated();
    expect(metadata.reduce((sum, r) => sum + r.length, 0)).toBe(stats.metadataBytes);
    for (const r of metadata) expect(isManaged(managed, r.base)).toBe(false);
    // One bit per managed frame at least.
    expect(stats.metadataBytes).toBeGreaterThanOrEqual(stats.totalFrames / 8);
    pmm.check();
  });
});

describe("init on a 64 GiB machine", () => {
  it("writes only the region table: no frame and no bitmap page is touched", () => {
    const map = qemuMemoryMap({ machine: "q35", ramBytes: 64 * GiB });
    const ram = new PhysicalRam(map);
    const boot = new BumpBootAllocator(map, { reserved: [KERNEL] });
    const pmm = new StackPmm();
    const started = performance.now();
    pmm.init(map, boot, ram);
    const elapsed = performance.now() - started;
    console.log(`init of 64 GiB: ${elapsed.toFixed(2)} ms, ${ram.touchedPages} page(s) touched`);
    expect(ram.touchedPages).toBeLessThanOrEqual(1);
    const stats = pmm.stats();
    expect(stats.totalFrames).toBeGreaterThan(16_000_000);
    // 2 MiB of bitmap for 16 M frames, plus the region table.
    expect(stats.metadataBytes).toBeLessThan(2.1 * MiB);
    pmm.check();
  });

  it("hands out and takes back 100 000 frames touching only link pages", () => {
    const { pmm, ram, managed } = machine(qemuMemoryMap({ machine: "q35", ramBytes: 64 * GiB }));
    const frames: number[] = [];
    for (let i = 0; i < 100_000; i++) frames.push(pmm.allocFrames(1));
    expect(frames.every((a) => a >= 4 * GiB && isManaged(managed, a))).toBe(true);
    for (const addr of frames) pmm.freeFrames(addr, 1);
    // ~100 link pages of ~1000 frame numbers each, the bitmap pages the frames use, the table.
    expect(ram.touchedPages).toBeLessThan(200);
    expect(pmm.stats().freeFrames).toBe(pmm.stats().totalFrames);
    pmm.check();
  });
});

describe("frame numbers of 2^32 and above (RAM beyond 16 TiB)", () => {
  const map: MemoryMap = [
    { base: 0, length: 0x9f000, type: "usable" },
    { base: MiB, length: 31 * MiB, type: "usable" },
    { base: 2 ** 45, length: 8 * MiB, type: "usable" },
  ];

  it.each(LAYOUTS)("%s links: allocate all, free all, allocate all again", (framesPerLink) => {
    const { pmm, managed } = machine(map, { framesPerLink });
    const total = pmm.stats().totalFrames;
    const first = allocateAll(pmm);
    expect(first.length).toBe(total);
    expect(first.filter((a) => a >= 2 ** 45).length).toBe((8 * MiB) / PAGE_SIZE);
    expect(first.every((a) => isManaged(managed, a))).toBe(true);
    for (const addr of first) pmm.freeFrames(addr, 1);
    pmm.check();
    const second = allocateAll(pmm);
    expect(new Set(second)).toEqual(new Set(first));
    pmm.check();
  });
});

describe("zone limits option", () => {
  it("splits the zones where it is told to", () => {
    const zoneLimits = { DMA: 4 * MiB, DMA32: 64 * MiB };
    const { pmm, managed } = machine("qemu-i440fx-128m", { zoneLimits });
    const perZone = framesPerZone(managed, zoneLimits);
    const stats = pmm.stats();
    expect(stats.zones.DMA.totalFrames).toBe(perZone.DMA);
    expect(stats.zones.DMA32.totalFrames).toBe(perZone.DMA32);
    expect(stats.zones.NORMAL.totalFrames).toBe(perZone.NORMAL);
    expect(perZone.NORMAL).toBeGreaterThan(0);
    const normal = allocateAll(pmm, { zone: "NORMAL" });
    expect(normal.length).toBe(perZone.NORMAL);
    expect(normal.every((a) => a >= 64 * MiB)).toBe(true);
    pmm.check();
  });

  it("refuses bad limits and options with EINVAL", () => {
    expect(errorCode(() => new StackPmm({ zoneLimits: { DMA: 0, DMA32: GiB } }))).toBe("EINVAL");
    expect(errorCode(() => new StackPmm({ zoneLimits: { DMA: GiB, DMA32: MiB } }))).toBe("EINVAL");
    expect(errorCode(() => new StackPmm({ zoneLimits: { DMA: 1000, DMA32: GiB } }))).toBe("EINVAL");
    expect(errorCode(() => new StackPmm({ scrub: "sometimes" as unknown as "none" }))).toBe(
      "EINVAL",
    );
    expect(errorCode(() => new StackPmm({ framesPerLink: 7 as unknown as "one" }))).toBe("EINVAL");
    expect(new StackPmm().options).toEqual({
      zoneLimits: DEFAULT_ZONE_LIMITS,
      scrub: "none",
      framesPerLink: "batched",
    });
  });
});

describe("init misuse", () => {
  it("refuses a second init, a capped boot allocator, and calls before init", () => {
    const { pmm, map, boot, ram } = machine("qemu-i440fx-128m");
    expect(errorCode(() => pmm.init(map, boot, ram))).toBe("EINVAL");

    const fresh = new StackPmm();
    expect(errorCode(() => fresh.allocFrames(1))).toBe("EINVAL");
    expect(errorCode(() => fresh.freeFrames(0x400000, 1))).toBe("EINVAL");
    expect(fresh.stats().totalFrames).toBe(0);
    fresh.check();
    const map2 = memoryMapPreset("qemu-i440fx-128m");
    const capped = new BumpBootAllocator(map2, { reserved: [KERNEL] });
    capped.cap();
    expect(errorCode(() => fresh.init(map2, capped, new PhysicalRam(map2)))).toBe("EINVAL");
  });

  it("raises ENOMEM, changing nothing, when the boot allocator has no room for the metadata", () => {
    const map = memoryMapPreset("qemu-i440fx-128m");
    const real = new BumpBootAllocator(map, { reserved: [KERNEL] });
    const full: BootAllocator = {
      alloc: () => 0,
      allocFrames: () => 0,
      allocated: () => real.allocated(),
      reserved: () => real.reserved(),
      get capped() {
        return real.capped;
      },
      cap: () => real.cap(),
    };
    const pmm = new StackPmm();
    expect(errorCode(() => pmm.init(map, full, new PhysicalRam(map)))).toBe("ENOMEM");
    expect(real.capped).toBe(false);
    expect(errorCode(() => pmm.allocFrames(1))).toBe("EINVAL");
  });

  it("manages nothing when the map has no usable RAM", () => {
    const map: MemoryMap = [{ base: 0, length: 0x100000, type: "reserved" }];
    const { pmm } = machine(map);
    expect(pmm.stats()).toMatchObject({ totalFrames: 0, freeFrames: 0, metadataBytes: 0 });
    expect(pmm.allocFrames(1)).toBe(0);
    expect(errorCode(() => pmm.freeFrames(0x1000, 1))).toBe("EFAULT");
    pmm.check();
  });
});
