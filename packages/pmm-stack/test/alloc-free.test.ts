import { describe, expect, it } from "vitest";
import { MiB, PAGE_SIZE, ZONES, zoneOf, type FrameConstraints } from "@allockit/core";
import { STACK_PMM_CAPABILITIES } from "@allockit/pmm-stack";
import { KERNEL, LAYOUTS, allocateAll, errorCode, isManaged, machine } from "./helpers.js";

describe("capabilities", () => {
  it("declares single frames, the zone constraint only, 4 KiB pages", () => {
    const { pmm } = machine("qemu-i440fx-128m");
    expect(pmm.name).toBe("pmm-stack");
    expect(pmm.capabilities).toBe(STACK_PMM_CAPABILITIES);
    expect(pmm.capabilities.contiguous).toBe(false);
    expect(pmm.capabilities.maxContiguousFrames).toBe(1);
    expect([...pmm.capabilities.constraints]).toEqual(["zone"]);
    expect(pmm.capabilities.pageSizes).toEqual([PAGE_SIZE]);
  });
});

describe.each(LAYOUTS)("allocFrames / freeFrames (%s links)", (framesPerLink) => {
  it("hands out every managed frame once, aligned, NORMAL then DMA32 then DMA; then 0", () => {
    // Zone limits that give 128 MiB all three zones keep this exhaustive test small.
    const zoneLimits = { DMA: 16 * MiB, DMA32: 64 * MiB };
    const { pmm, managed } = machine("qemu-i440fx-128m", { framesPerLink, zoneLimits });
    const initial = pmm.stats();
    const frames = allocateAll(pmm);
    expect(frames.length).toBe(initial.totalFrames);
    expect(new Set(frames).size).toBe(frames.length);
    expect(frames.every((a) => a % PAGE_SIZE === 0 && isManaged(managed, a))).toBe(true);
    // Zone preference: the sequence of zones never goes back up.
    const order = frames.map((a) => ZONES.indexOf(zoneOf(a, zoneLimits)));
    expect(order.every((zone, i) => i === 0 || zone <= order[i - 1]!)).toBe(true);
    expect(order[0]).toBe(ZONES.indexOf("NORMAL"));
    expect(pmm.allocFrames(1)).toBe(0);
    expect(pmm.allocFrames(1, { zone: "DMA" })).toBe(0);
    expect(pmm.stats()).toMatchObject({ freeFrames: 0, usedFrames: initial.totalFrames });
    pmm.check();

    for (const addr of frames) pmm.freeFrames(addr, 1);
    expect(pmm.stats()).toEqual(initial);
    pmm.check();
    // Freed frames come back, from the stacks this time.
    const again = allocateAll(pmm);
    expect(new Set(again)).toEqual(new Set(frames));
    pmm.check();
  });

  it.each(ZONES)("zone %s: every frame it hands out is in that zone", (zone) => {
    const { pmm } = machine("qemu-q35-4g", { framesPerLink });
    const zoneFrames = pmm.stats().zones[zone].totalFrames;
    const frames = allocateAll(pmm, { zone });
    expect(frames.length).toBe(zoneFrames);
    expect(frames.every((a) => zoneOf(a) === zone)).toBe(true);
    expect(pmm.stats().zones[zone].freeFrames).toBe(0);
    // Freed and taken again: the per-zone stacks keep them in their zone.
    for (const addr of frames.slice(0, 100)) pmm.freeFrames(addr, 1);
    expect(allocateAll(pmm, { zone }).every((a) => zoneOf(a) === zone)).toBe(true);
    pmm.check();
  });

  it("runs out exactly at the free count on a 4 GiB machine, and recovers", () => {
    const { pmm } = machine("qemu-q35-4g", { framesPerLink });
    const initial = pmm.stats();
    const frames = allocateAll(pmm);
    expect(frames.length).toBe(initial.totalFrames);
    for (const addr of frames) pmm.freeFrames(addr, 1);
    expect(pmm.stats()).toEqual(initial);
    pmm.check();
  });

  it("falls back to DMA32, then DMA, when NORMAL runs out", () => {
    const { pmm } = machine("qemu-q35-4g", { framesPerLink });
    allocateAll(pmm, { zone: "NORMAL" });
    expect(zoneOf(pmm.allocFrames(1))).toBe("DMA32");
    allocateAll(pmm, { zone: "DMA32" });
    expect(zoneOf(pmm.allocFrames(1))).toBe("DMA");
  });

  it("returns 0 for a zone with no RAM (NORMAL on 128 MiB)", () => {
    const { pmm } = machine("qemu-i440fx-128m", { framesPerLink });
    expect(pmm.allocFrames(1, { zone: "NORMAL" })).toBe(0);
    expect(zoneOf(pmm.allocFrames(1))).toBe("DMA32");
  });

  it("reuses the last freed frame first (LIFO)", () => {
    const { pmm } = machine("qemu-i440fx-128m", { framesPerLink });
    const frames = Array.from({ length: 50 }, () => pmm.allocFrames(1));
    for (const addr of frames) pmm.freeFrames(addr, 1);
    expect(pmm.allocFrames(1)).toBe(frames[frames.length - 1]);
  });

  it("frees runs of consecutive frames, all checked before any is freed", () => {
    const { pmm } = machine("qemu-i440fx-128m", { framesPerLink });
    // The lazy fill hands out untouched frames in address order.
    const a = pmm.allocFrames(1);
    const b = pmm.allocFrames(1);
    const c = pmm.allocFrames(1);
    expect([b - a, c - b]).toEqual([PAGE_SIZE, PAGE_SIZE]);
    const before = pmm.stats();
    expect(errorCode(() => pmm.freeFrames(a, 4))).toBe("EDOUBLEFREE");
    expect(pmm.stats()).toEqual(before);
    pmm.freeFrames(a, 2);
    expect(pmm.stats().usedFrames).toBe(before.usedFrames - 2);
    expect(errorCode(() => pmm.freeFrames(a, 1))).toBe("EDOUBLEFREE");
    pmm.freeFrames(c, 1);
    pmm.check();
  });
});

describe.each(LAYOUTS)(
  "bad frees (%s links) raise typed errors and change nothing",
  (framesPerLink) => {
    const { pmm, boot } = machine("qemu-q35-4g", { framesPerLink });
    const live = Array.from({ length: 20 }, () => pmm.allocFrames(1));
    const freed = live.pop()!;
    pmm.freeFrames(freed, 1);
    const metadata = boot.allocated()[0]!.base;
    const cases: Array<[string, number, number, string]> = [
      ["a double free", freed, 1, "EDOUBLEFREE"],
      ["a frame never handed out", 0x7000000, 1, "EDOUBLEFREE"],
      ["frame 0", 0, 1, "EFAULT"],
      ["the kernel image", KERNEL.base, 1, "EFAULT"],
      ["the last kernel frame", KERNEL.base + KERNEL.length - PAGE_SIZE, 1, "EFAULT"],
      ["the PMM's own metadata", metadata, 1, "EFAULT"],
      ["the VGA hole", 0xa0000, 1, "EFAULT"],
      ["the BIOS area", 0xf0000, 1, "EFAULT"],
      ["the q35 MMCONFIG window", 0xb0000000, 1, "EFAULT"],
      ["beyond RAM", 2 ** 40, 1, "EFAULT"],
      ["a misaligned address", live[0]! + 8, 1, "EINVAL"],
      ["a negative address", -4096, 1, "EINVAL"],
      ["NaN", Number.NaN, 1, "EINVAL"],
      ["a fractional address", 4096.5, 1, "EINVAL"],
      ["count 0", live[0]!, 0, "EINVAL"],
      ["a negative count", live[0]!, -1, "EINVAL"],
      ["a fractional count", live[0]!, 1.5, "EINVAL"],
      ["a run reaching a free frame", live[live.length - 1]!, 2, "EDOUBLEFREE"],
      ["a run reaching the kernel", KERNEL.base - PAGE_SIZE, 2, "EFAULT"],
    ];
    it.each(cases)("%s", (_, addr, count, code) => {
      const before = pmm.stats();
      expect(errorCode(() => pmm.freeFrames(addr, count))).toBe(code);
      expect(pmm.stats()).toEqual(before);
      pmm.check();
    });

    it("names the bad value in the message", () => {
      expect(() => pmm.freeFrames(freed, 1)).toThrow(freed.toString(16));
      expect(() => pmm.freeFrames(0xa0000, 1)).toThrow("0xa0000");
    });

    it("left every live frame allocated", () => {
      for (const addr of live) pmm.freeFrames(addr, 1);
      expect(pmm.stats().usedFrames).toBe(0);
    });
  },
);

describe("constraints", () => {
  const { pmm } = machine("qemu-i440fx-128m");
  const unsupported: Array<[string, number, FrameConstraints | undefined]> = [
    ["align", 1, { align: 2 * MiB }],
    ["below", 1, { below: 16 * MiB }],
    ["boundary", 1, { boundary: 64 * 1024 }],
    ["a zone plus align", 1, { zone: "DMA", align: 8192 }],
    ["a contiguous run", 2, undefined],
    ["a contiguous run in a zone", 8, { zone: "DMA" }],
  ];
  it.each(unsupported)("%s: EUNSUPPORTED, nothing handed out", (_, count, constraints) => {
    const before = pmm.stats();
    expect(errorCode(() => pmm.allocFrames(count, constraints))).toBe("EUNSUPPORTED");
    expect(pmm.stats()).toEqual(before);
  });

  const malformed: Array<[string, number, unknown]> = [
    ["count 0", 0, undefined],
    ["count NaN", Number.NaN, undefined],
    ["count -1", -1, undefined],
    ["count 1.5", 1.5, undefined],
    ["an unknown zone", 1, { zone: "HIGHMEM" }],
    ["an unknown constraint", 1, { node: 1 }],
    ["constraints that are not an object", 1, 7],
  ];
  it.each(malformed)("%s: EINVAL", (_, count, constraints) => {
    const before = pmm.stats();
    expect(errorCode(() => pmm.allocFrames(count, constraints as FrameConstraints))).toBe("EINVAL");
    expect(pmm.stats()).toEqual(before);
  });

  it("accepts an empty constraints object and undefined fields", () => {
    expect(pmm.allocFrames(1, {})).not.toBe(0);
    expect(pmm.allocFrames(1, { zone: undefined, align: undefined })).not.toBe(0);
    pmm.check();
  });
});
