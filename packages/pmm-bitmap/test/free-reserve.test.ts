import { describe, expect, it } from "vitest";
import { memoryMapPreset } from "@allockit/x86-machine";
import {
  GiB,
  KERNEL,
  MiB,
  PAGE,
  bootPmm,
  expectAllocatorError,
  expectRejectedUnchanged,
  metadataBlock,
} from "./helpers.js";

const Q35_4G = memoryMapPreset("qemu-q35-4g");

describe("BitmapPmm.freeFrames errors", () => {
  function booted() {
    const system = bootPmm(Q35_4G);
    const single = system.pmm.allocFrames(1);
    const run = system.pmm.allocFrames(4, { zone: "DMA32" });
    return { ...system, single, run };
  }

  it("raises EDOUBLEFREE for a frame freed twice", () => {
    const { pmm, single } = booted();
    pmm.freeFrames(single, 1);
    expectRejectedUnchanged(pmm, () => pmm.freeFrames(single, 1), "EDOUBLEFREE", "already free");
  });

  it("raises EDOUBLEFREE for a run that is partly free, and frees none of it", () => {
    const { pmm, run } = booted();
    pmm.freeFrames(run + 2 * PAGE, 1);
    expectRejectedUnchanged(
      pmm,
      () => pmm.freeFrames(run, 4),
      "EDOUBLEFREE",
      (run + 2 * PAGE).toString(16),
    );
    // The rest of the run is still allocated: freeing its parts works.
    pmm.freeFrames(run, 2);
    pmm.freeFrames(run + 3 * PAGE, 1);
    pmm.check();
  });

  it("raises EDOUBLEFREE for a run reaching past what was allocated", () => {
    const { pmm, run } = booted();
    expectRejectedUnchanged(pmm, () => pmm.freeFrames(run, 5), "EDOUBLEFREE");
  });

  it.each([
    ["frame 0", 0],
    ["the kernel image", KERNEL.base],
    ["the end of the kernel image", KERNEL.base + KERNEL.length - PAGE],
    ["the EBDA", 0x9f000],
    ["the VGA hole", 0xa0000],
    ["the BIOS", 0xf0000],
    ["the PCI hole", 3 * GiB],
    ["beyond RAM", 64 * GiB],
    ["the top of the physical address space", 2 ** 52 - PAGE],
  ])("raises EFAULT for %s", (_what, addr) => {
    const { pmm } = booted();
    expectRejectedUnchanged(pmm, () => pmm.freeFrames(addr, 1), "EFAULT", "not managed RAM");
  });

  it("raises EFAULT for its own metadata frames", () => {
    const system = booted();
    const block = metadataBlock(system);
    const { pmm } = system;
    expectRejectedUnchanged(pmm, () => pmm.freeFrames(block.base, 1), "EFAULT", "reserved");
    expectRejectedUnchanged(
      pmm,
      () => pmm.freeFrames(block.base + block.length - PAGE, 1),
      "EFAULT",
      "reserved",
    );
  });

  it("raises EFAULT for a run reaching from RAM into a hole", () => {
    const { pmm } = booted();
    // Constrained requests are first-fit: walk up low RAM to its last frame, below the EBDA.
    let last = 0;
    while (last !== 0x9e000) last = pmm.allocFrames(1, { zone: "DMA" });
    expectRejectedUnchanged(pmm, () => pmm.freeFrames(last, 2), "EFAULT", "0x9f000");
    pmm.freeFrames(last, 1);
  });

  it.each([
    ["a misaligned address", 0x200001, 1, "0x200001"],
    ["a half-page address", 0x400800, 1, "0x400800"],
    ["a negative address", -4096, 1, "-4096"],
    ["NaN", Number.NaN, 1, "NaN"],
    ["a fractional address", 4096.5, 1, "4096.5"],
    ["a count of 0", 0x200000, 0, "frame count 0"],
    ["a negative count", 0x200000, -1, "frame count -1"],
    ["a fractional count", 0x200000, 1.5, "1.5"],
  ])("raises EINVAL for %s", (_what, addr, count, mentions) => {
    const { pmm } = booted();
    expectRejectedUnchanged(pmm, () => pmm.freeFrames(addr, count), "EINVAL", mentions);
  });

  it("frees a run that spans the DMA / DMA32 zone limit", () => {
    const { pmm, run } = booted();
    const dma: number[] = [];
    for (let addr = pmm.allocFrames(1, { zone: "DMA" }); addr !== 0;) {
      dma.push(addr);
      addr = pmm.allocFrames(1, { zone: "DMA" });
    }
    const below = dma[dma.length - 2]!;
    expect(below).toBe(16 * MiB - 2 * PAGE);
    for (const addr of dma.slice(0, -2)) pmm.freeFrames(addr, 1);
    // booted() allocated the first four DMA32 frames, from 16 MiB.
    expect(run).toBe(16 * MiB);
    const before = pmm.stats();
    pmm.freeFrames(below, 4);
    expect(pmm.stats().zones.DMA.freeFrames).toBe(before.zones.DMA.freeFrames + 2);
    expect(pmm.stats().zones.DMA32.freeFrames).toBe(before.zones.DMA32.freeFrames + 2);
    pmm.check();
  });
});

describe("BitmapPmm.reserve", () => {
  it("takes the free frames of a range out of circulation for good", () => {
    const { pmm } = bootPmm(Q35_4G);
    const before = pmm.stats();
    const range = { base: 0x4000000, length: 0x10000, name: "ACPI found late" };
    pmm.reserve(range);
    const after = pmm.stats();
    expect(after.freeFrames).toBe(before.freeFrames - 16);
    expect(after.totalFrames).toBe(before.totalFrames - 16);
    expect(after.usedFrames).toBe(before.usedFrames);
    expect(after.zones.DMA32.totalFrames).toBe(before.zones.DMA32.totalFrames - 16);
    pmm.check();
    expectRejectedUnchanged(pmm, () => pmm.freeFrames(range.base, 1), "EFAULT", "reserved");
    // Never handed out again, however hard it is asked for.
    const addr = pmm.allocFrames(16, { zone: "DMA32", align: 0x4000000 });
    expect(addr).toBe(0x8000000);
    // Reserving it again changes nothing.
    pmm.reserve(range);
    expect(pmm.stats().freeFrames).toBe(after.freeFrames - 16);
  });

  it("rounds a partial-page range out to whole frames", () => {
    const { pmm } = bootPmm(Q35_4G);
    const before = pmm.stats().freeFrames;
    pmm.reserve({ base: 0x6000ff0, length: 0x20 });
    expect(pmm.stats().freeFrames).toBe(before - 2);
    pmm.check();
  });

  it("refuses a range holding an allocated frame, naming it, changing nothing", () => {
    const { pmm } = bootPmm(Q35_4G);
    const addr = pmm.allocFrames(1, { zone: "DMA32", align: 0x8000000 });
    expect(addr).toBe(0x8000000);
    expectRejectedUnchanged(
      pmm,
      () => pmm.reserve({ base: addr - 0x10000, length: 0x20000 }),
      "EINVAL",
      "0x8000000",
    );
    pmm.freeFrames(addr, 1);
    pmm.reserve({ base: addr - 0x10000, length: 0x20000 });
    pmm.check();
  });

  it("ignores frames outside managed RAM: holes, the kernel, metadata, beyond RAM", () => {
    const booted = bootPmm(Q35_4G);
    const { pmm } = booted;
    const before = pmm.stats();
    pmm.reserve({ base: 0, length: PAGE });
    pmm.reserve(KERNEL);
    pmm.reserve(metadataBlock(booted));
    pmm.reserve({ base: 0xa0000, length: 0x60000 });
    pmm.reserve({ base: 3 * GiB, length: GiB });
    pmm.reserve({ base: 2 ** 50, length: GiB });
    pmm.reserve({ base: 0x200000, length: 0 });
    expect(pmm.stats()).toEqual(before);
    pmm.check();
  });

  it("reserves across regions and zones", () => {
    const { pmm } = bootPmm(Q35_4G);
    const before = pmm.stats();
    pmm.reserve({ base: 15 * MiB, length: 2 * MiB });
    expect(pmm.stats().zones.DMA.totalFrames).toBe(before.zones.DMA.totalFrames - 256);
    expect(pmm.stats().zones.DMA32.totalFrames).toBe(before.zones.DMA32.totalFrames - 256);
    pmm.check();
  });

  it.each([
    ["null", null],
    ["a negative base", { base: -4096, length: 4096 }],
    ["a negative length", { base: 4096, length: -1 }],
    ["a fractional base", { base: 0.5, length: 4096 }],
    ["a base past 2^53", { base: 2 ** 53, length: 4096 }],
  ])("raises EINVAL for %s", (_what, range) => {
    const { pmm } = bootPmm(Q35_4G);
    expectRejectedUnchanged(pmm, () => pmm.reserve(range as never), "EINVAL", "reserve");
  });

  it("reserves a whole zone, after which that zone hands out nothing", () => {
    const { pmm } = bootPmm(Q35_4G);
    pmm.reserve({ base: 0, length: 16 * MiB });
    expect(pmm.stats().zones.DMA).toEqual({ totalFrames: 0, freeFrames: 0, usedFrames: 0 });
    expect(pmm.allocFrames(1, { zone: "DMA" })).toBe(0);
    expectAllocatorError(() => pmm.freeFrames(0x1000, 1), "EFAULT");
    pmm.check();
  });
});
