import { describe, expect, it } from "vitest";
import { MiB, PAGE_SIZE, type PhysRange } from "@allockit/core";
import { LAYOUTS, allocateAll, errorCode, machine } from "./helpers.js";

function inside(range: PhysRange, addr: number): boolean {
  return addr >= range.base && addr < range.base + range.length;
}

describe.each(LAYOUTS)("reserve (%s links)", (framesPerLink) => {
  it("takes stacked and untouched free frames out for good, splitting a region", () => {
    const { pmm } = machine("qemu-i440fx-128m", { framesPerLink });
    const initial = pmm.stats();
    // 6000 frames from 16 MiB up go through the stack: the range below holds stacked frames
    // (up to ~39.4 MiB) and untouched ones (above).
    const cycled = Array.from({ length: 6000 }, () => pmm.allocFrames(1));
    expect(Math.max(...cycled)).toBeLessThan(40 * MiB);
    for (const addr of cycled) pmm.freeFrames(addr, 1);
    expect(pmm.stats()).toEqual(initial);

    const range = { base: 38 * MiB + 100, length: 2 * MiB, name: "late ACPI table" };
    const frames =
      Math.ceil((range.base + range.length) / PAGE_SIZE) - Math.floor(range.base / PAGE_SIZE);
    pmm.reserve(range);
    pmm.check();
    const after = pmm.stats();
    expect(after.freeFrames).toBe(initial.freeFrames - frames);
    expect(after.usedFrames).toBe(0);
    expect(after.zones.DMA32.totalFrames).toBe(initial.zones.DMA32.totalFrames - frames);

    const all = allocateAll(pmm);
    expect(all.length).toBe(after.freeFrames);
    const rounded = {
      base: Math.floor(range.base / PAGE_SIZE) * PAGE_SIZE,
      length: frames * PAGE_SIZE,
    };
    expect(all.some((addr) => inside(rounded, addr))).toBe(false);
    expect(errorCode(() => pmm.freeFrames(rounded.base, 1))).toBe("EFAULT");
    expect(errorCode(() => pmm.freeFrames(rounded.base + rounded.length - PAGE_SIZE, 1))).toBe(
      "EFAULT",
    );
    for (const addr of all) pmm.freeFrames(addr, 1);
    pmm.check();
  });

  it("refuses a range holding an allocated frame with EINVAL naming it, changing nothing", () => {
    const { pmm } = machine("qemu-i440fx-128m", { framesPerLink });
    const frames = Array.from({ length: 10 }, () => pmm.allocFrames(1));
    pmm.freeFrames(frames[3]!, 1);
    const before = pmm.stats();
    const range = { base: frames[0]!, length: 10 * PAGE_SIZE };
    expect(() => pmm.reserve(range)).toThrow(frames[0]!.toString(16));
    expect(errorCode(() => pmm.reserve(range))).toBe("EINVAL");
    expect(pmm.stats()).toEqual(before);
    pmm.check();
    expect(pmm.allocFrames(1)).toBe(frames[3]);
  });

  it("ignores what it does not manage, and a range already reserved", () => {
    const { pmm } = machine("qemu-q35-4g", { framesPerLink });
    const before = pmm.stats();
    pmm.reserve({ base: 0, length: PAGE_SIZE, name: "frame 0" });
    pmm.reserve({ base: 0xb0000000, length: 256 * MiB, name: "MMCONFIG" });
    pmm.reserve({ base: 2 ** 40, length: MiB });
    pmm.reserve({ base: 0x100000, length: 0 });
    expect(pmm.stats()).toEqual(before);
    pmm.reserve({ base: 0x9e000, length: 0x4000 }); // the last low frame and the EBDA after it
    expect(pmm.stats().freeFrames).toBe(before.freeFrames - 1);
    pmm.reserve({ base: 0x9e000, length: 0x4000 });
    expect(pmm.stats().freeFrames).toBe(before.freeFrames - 1);
    pmm.check();
  });

  it("drops whole regions and cuts several at once (across a zone limit)", () => {
    const { pmm } = machine("qemu-q35-4g", { framesPerLink });
    const before = pmm.stats();
    // Everything from 8 MiB to 24 MiB: the end of DMA and the start of DMA32.
    pmm.reserve({ base: 8 * MiB, length: 16 * MiB });
    pmm.check();
    expect(pmm.stats().zones.DMA.totalFrames).toBe(before.zones.DMA.totalFrames - 2048);
    expect(pmm.stats().zones.DMA32.totalFrames).toBe(before.zones.DMA32.totalFrames - 2048);
    // All of low memory below 640 KiB.
    pmm.reserve({ base: 0, length: 0xa0000 });
    pmm.check();
    const dma = allocateAll(pmm, { zone: "DMA" });
    expect(dma.every((a) => a >= MiB && a < 8 * MiB)).toBe(true);
    expect(dma.length).toBe(pmm.stats().zones.DMA.totalFrames);
  });

  it("splits regions many times over", () => {
    const { pmm } = machine("qemu-i440fx-128m", { framesPerLink });
    const before = pmm.stats().freeFrames;
    for (let i = 0; i < 40; i++) pmm.reserve({ base: 32 * MiB + i * 64 * 1024, length: PAGE_SIZE });
    pmm.check();
    expect(pmm.stats().freeFrames).toBe(before - 40);
  });

  it("raises ENOMEM, changing nothing, once no descriptor is left for a split", () => {
    const { pmm } = machine("qemu-i440fx-128m", { framesPerLink });
    let splits = 0;
    let code = "";
    while (code === "") {
      const before = pmm.stats();
      try {
        pmm.reserve({ base: 32 * MiB + splits * 2 * PAGE_SIZE, length: PAGE_SIZE });
        splits++;
      } catch (error) {
        code = (error as { code: string }).code;
        expect(pmm.stats()).toEqual(before);
      }
    }
    expect(code).toBe("ENOMEM");
    expect(splits).toBeGreaterThanOrEqual(64);
    pmm.check();
    // Cutting the end off a region needs no new descriptor.
    pmm.reserve({ base: 32 * MiB + (splits * 2 - 1) * PAGE_SIZE, length: PAGE_SIZE });
    pmm.check();
  });

  it("refuses malformed ranges with EINVAL", () => {
    const { pmm } = machine("qemu-i440fx-128m", { framesPerLink });
    for (const bad of [
      { base: -1, length: 10 },
      { base: 0, length: -10 },
      { base: Number.NaN, length: 10 },
      { base: 2 ** 52, length: PAGE_SIZE },
      null,
    ]) {
      expect(errorCode(() => pmm.reserve(bad as unknown as PhysRange))).toBe("EINVAL");
    }
  });
});
