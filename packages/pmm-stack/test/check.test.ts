import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@allockit/core";
import { LINK_ENTRIES_OFFSET, LINK_NEXT_OFFSET } from "@allockit/pmm-stack";
import { errorCode, machine } from "./helpers.js";

/** Ten frames allocated then freed in order, on a PMM whose stacks were empty. */
function tenFreed(framesPerLink: "batched" | "one") {
  const m = machine("qemu-i440fx-128m", { framesPerLink });
  const frames = Array.from({ length: 10 }, () => m.pmm.allocFrames(1));
  const live = Array.from({ length: 5 }, () => m.pmm.allocFrames(1));
  for (const addr of frames) m.pmm.freeFrames(addr, 1);
  m.pmm.check();
  return { ...m, frames, live };
}

describe("check() with batched links", () => {
  // The first frame freed onto an empty stack became its link page; the nine others are its
  // entries 0..8.
  it("catches garbage over a link page's next link", () => {
    const { pmm, ram, frames } = tenFreed("batched");
    ram.write32(frames[0]! + LINK_NEXT_OFFSET, 0x12345);
    expect(errorCode(() => pmm.check())).toBe("ECORRUPT");
  });

  it("catches garbage over an entry, and allocFrames refuses to hand it out", () => {
    const { pmm, ram, frames } = tenFreed("batched");
    const entry = frames[0]! + LINK_ENTRIES_OFFSET + 4 * 3;
    const original = ram.read32(entry);
    ram.write32(entry, 0xa0); // frame 0xa0000: the VGA hole
    expect(() => pmm.check()).toThrow(/ECORRUPT.*0xa0000/);
    // Entries 8..4 are fine; entry 3 is not.
    for (let i = 0; i < 5; i++) pmm.allocFrames(1);
    const before = pmm.stats();
    expect(errorCode(() => pmm.allocFrames(1))).toBe("ECORRUPT");
    expect(pmm.stats()).toEqual(before);
    // Repaired, everything works again: the failed check left no marks behind.
    ram.write32(entry, original);
    pmm.check();
    expect(pmm.allocFrames(1)).toBe(original * PAGE_SIZE);
  });

  it("catches a frame listed twice", () => {
    const { pmm, ram, frames } = tenFreed("batched");
    ram.write32(frames[0]! + LINK_ENTRIES_OFFSET + 4 * 2, frames[5]! / PAGE_SIZE);
    expect(() => pmm.check()).toThrow(/listed twice/);
  });

  it("catches an allocated frame on the stack", () => {
    const { pmm, ram, frames, live } = tenFreed("batched");
    ram.write32(frames[0]! + LINK_ENTRIES_OFFSET, live[0]! / PAGE_SIZE);
    expect(errorCode(() => pmm.check())).toBe("ECORRUPT");
  });

  it("catches a link page claiming too many entries", () => {
    const { pmm, ram } = machine("qemu-i440fx-128m");
    const frames = Array.from({ length: 1100 }, () => pmm.allocFrames(1));
    for (const addr of frames) pmm.freeFrames(addr, 1);
    // frames[0] filled up and now sits below the new top page, frames[1021].
    ram.write32(frames[0]! + 8, 5000);
    expect(() => pmm.check()).toThrow(/claims 5000 entries/);
  });
});

describe("check() with one link per frame", () => {
  it("catches garbage over a link", () => {
    const { pmm, ram, frames } = tenFreed("one");
    ram.write32(frames[6]!, 0xfffff);
    expect(errorCode(() => pmm.check())).toBe("ECORRUPT");
  });

  it("catches a cycle", () => {
    const { pmm, ram, frames } = tenFreed("one");
    ram.write32(frames[3]!, frames[7]! / PAGE_SIZE);
    ram.write32(frames[3]! + 4, 0);
    expect(errorCode(() => pmm.check())).toBe("ECORRUPT");
  });

  it("catches a garbage link at the bottom when allocating", () => {
    const { pmm, ram, frames } = tenFreed("one");
    ram.write32(frames[0]!, 0x777);
    for (let i = 0; i < 9; i++) pmm.allocFrames(1);
    const before = pmm.stats();
    expect(errorCode(() => pmm.allocFrames(1))).toBe("ECORRUPT");
    expect(pmm.stats()).toEqual(before);
  });
});

describe("check() over the region table and bitmap", () => {
  it("catches an allocated bit above a watermark", () => {
    const { pmm, ram, boot } = machine("qemu-i440fx-128m");
    const bitmap = boot.allocated()[0]!.base + PAGE_SIZE; // after the one-page region table
    ram.write8(bitmap + 1000, 0x10);
    expect(() => pmm.check()).toThrow(/above the watermark/);
  });

  it("catches a stacked frame marked allocated", () => {
    const { pmm, ram, boot } = tenFreed("batched");
    const bitmap = boot.allocated()[0]!.base + PAGE_SIZE;
    // The DMA32 region's bits follow the DMA zone's; frames[9] was the tenth frame it handed out.
    const bit = pmm.stats().zones.DMA.totalFrames + 9;
    const at = bitmap + Math.floor(bit / 8);
    ram.write8(at, ram.read8(at) | (1 << (bit % 8)));
    expect(() => pmm.check()).toThrow(/allocated or listed twice/);
  });

  it("catches garbage over a watermark", () => {
    const { pmm, ram, boot } = machine("qemu-i440fx-128m");
    const table = boot.allocated()[0]!.base;
    ram.write32(table + 16, 0xffffffff);
    expect(errorCode(() => pmm.check())).toBe("ECORRUPT");
  });

  it("leaves the bitmap as it found it", () => {
    const { pmm, ram, boot } = tenFreed("batched");
    const bitmap = boot.allocated()[0]!.base + PAGE_SIZE;
    const before = ram.readBytes(bitmap, PAGE_SIZE);
    pmm.check();
    expect(ram.readBytes(bitmap, PAGE_SIZE)).toEqual(before);
  });
});
