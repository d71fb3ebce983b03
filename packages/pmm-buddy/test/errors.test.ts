import { describe, expect, it } from "vitest";
import { MiB, PAGE_SIZE } from "@allockit/core";
import { KERNEL, boot, expectAllocatorError, expectRejected } from "./helpers.js";

describe("BuddyPmm bad frees", () => {
  it("double free: EDOUBLEFREE naming the frame, nothing changed", () => {
    const { pmm } = boot();
    const addr = pmm.allocFrames(1);
    pmm.freeFrames(addr, 1);
    expectRejected(pmm, () => pmm.freeFrames(addr, 1), "EDOUBLEFREE", addr.toString(16));
  });

  it("a run with one frame already free is refused whole", () => {
    const { pmm } = boot();
    const addr = pmm.allocFrames(8);
    pmm.freeFrames(addr + 5 * PAGE_SIZE, 1);
    expectRejected(
      pmm,
      () => pmm.freeFrames(addr, 8),
      "EDOUBLEFREE",
      (addr + 5 * PAGE_SIZE).toString(16),
    );
    pmm.freeFrames(addr, 5);
    pmm.freeFrames(addr + 6 * PAGE_SIZE, 2);
    pmm.check();
  });

  it("frames never handed out (still free) are a double free", () => {
    const { pmm } = boot();
    const addr = pmm.allocFrames(1);
    expectRejected(pmm, () => pmm.freeFrames(addr + PAGE_SIZE, 1), "EDOUBLEFREE");
  });

  it("frame 0, the kernel, a hole, the BIOS area, metadata, beyond RAM: EFAULT", () => {
    const { pmm, boot: bootAllocator } = boot();
    pmm.allocFrames(2);
    const metadata = bootAllocator.allocated()[0]!.base;
    const cases: Array<[number, string]> = [
      [0, "0x0"],
      [KERNEL.base, "0x100000"],
      [KERNEL.base + KERNEL.length - PAGE_SIZE, "0x2ff000"],
      [0xa0000, "0xa0000"], // VGA hole
      [0xf0000, "0xf0000"], // BIOS, reserved
      [metadata, metadata.toString(16)],
      [128 * MiB, "0x8000000"], // beyond RAM
      [2 ** 40, "0x10000000000"],
    ];
    for (const [addr, mentions] of cases) {
      expectRejected(pmm, () => pmm.freeFrames(addr, 1), "EFAULT", mentions);
    }
  });

  it("a run reaching from allocated frames into the kernel is refused whole", () => {
    const { pmm } = boot();
    // Allocate everything in DMA so the frames just above the kernel image are allocated.
    const dma: number[] = [];
    for (
      let a = pmm.allocFrames(1, { zone: "DMA" });
      a !== 0;
      a = pmm.allocFrames(1, { zone: "DMA" })
    )
      dma.push(a);
    const lowest = Math.min(...dma.filter((a) => a > KERNEL.base));
    expectRejected(pmm, () => pmm.freeFrames(lowest - PAGE_SIZE, 2), "EFAULT");
  });

  it("misaligned or malformed arguments: EINVAL", () => {
    const { pmm } = boot();
    const addr = pmm.allocFrames(2);
    expectRejected(pmm, () => pmm.freeFrames(addr + 8, 1), "EINVAL", (addr + 8).toString(16));
    expectRejected(pmm, () => pmm.freeFrames(addr + 0.5, 1), "EINVAL");
    expectRejected(pmm, () => pmm.freeFrames(-4096, 1), "EINVAL", "-4096");
    expectRejected(pmm, () => pmm.freeFrames(addr, 0), "EINVAL", "frame count 0");
    expectRejected(pmm, () => pmm.freeFrames(addr, 1.5), "EINVAL", "1.5");
    expectRejected(pmm, () => pmm.freeFrames(Number.NaN, 1), "EINVAL", "NaN");
    pmm.freeFrames(addr, 2);
    pmm.check();
  });
});

describe("BuddyPmm reserve", () => {
  it("takes free frames out for good, splitting blocks; frees of them are EFAULT", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    const before = pmm.stats();
    const range = { base: 40 * MiB + 0x800, length: 3 * MiB, name: "acpi tables found late" };
    pmm.reserve(range);
    const first = 40 * MiB;
    const last = 43 * MiB; // rounded outward to whole pages: 40 MiB .. 43 MiB + 4 KiB
    const frames = (last + PAGE_SIZE - first) / PAGE_SIZE;
    const after = pmm.stats();
    expect(after.totalFrames).toBe(before.totalFrames - frames);
    expect(after.freeFrames).toBe(before.freeFrames - frames);
    expect(after.zones.DMA32.totalFrames).toBe(before.zones.DMA32.totalFrames - frames);
    pmm.check();
    const taken = new Set<number>();
    for (let a = pmm.allocFrames(1); a !== 0; a = pmm.allocFrames(1)) taken.add(a);
    for (let at = first; at <= last; at += PAGE_SIZE) expect(taken.has(at)).toBe(false);
    expect(taken.has(first - PAGE_SIZE)).toBe(true);
    expect(taken.has(last + PAGE_SIZE)).toBe(true);
    expectRejected(pmm, () => pmm.freeFrames(first, 1), "EFAULT", "0x2800000");
  });

  it("refuses a range holding an allocated frame, naming it, changing nothing", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    const addr = pmm.allocFrames(1);
    expectRejected(
      pmm,
      () => pmm.reserve({ base: addr - 4 * PAGE_SIZE, length: 16 * PAGE_SIZE }),
      "EINVAL",
      addr.toString(16),
    );
  });

  it("ignores frames that are not managed RAM; is idempotent", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    const before = pmm.stats();
    pmm.reserve({ base: 0, length: 0x100000 + 0x200000 }); // frame 0, low RAM, BIOS, kernel
    const lowFrames = 0x9f000 / PAGE_SIZE - 1;
    expect(pmm.stats().totalFrames).toBe(before.totalFrames - lowFrames);
    const again = pmm.stats();
    pmm.reserve({ base: 0, length: 0x300000 });
    pmm.reserve({ base: 200 * MiB, length: MiB }); // beyond RAM
    pmm.reserve({ base: 5 * MiB, length: 0 });
    expect(pmm.stats()).toEqual(again);
    pmm.check();
  });

  it("malformed ranges: EINVAL", () => {
    const { pmm } = boot();
    expectRejected(pmm, () => pmm.reserve({ base: -1, length: 4096 }), "EINVAL", "-1");
    expectRejected(pmm, () => pmm.reserve({ base: 0, length: Number.NaN }), "EINVAL", "NaN");
    expectRejected(pmm, () => pmm.reserve(null as never), "EINVAL", "null");
  });
});

describe("BuddyPmm check()", () => {
  function brokenLinkSetup() {
    const booted = boot("qemu-i440fx-128m");
    const { pmm } = booted;
    // Scatter order-0 free blocks: allocate 64 frames, free every other one.
    const frames = Array.from({ length: 64 }, () => pmm.allocFrames(1));
    frames.forEach((addr, i) => i % 2 === 0 && pmm.freeFrames(addr, 1));
    pmm.check();
    return { ...booted, victim: frames[2]! };
  }

  it("catches a broken next link", () => {
    const { pmm, ram, victim } = brokenLinkSetup();
    ram.write64(victim, 0x12345000, 0);
    expectAllocatorError(() => pmm.check(), "ECORRUPT");
  });

  it("catches a broken prev link", () => {
    const { pmm, ram, victim } = brokenLinkSetup();
    ram.write64(victim + 8, 0x5000, 0);
    expectAllocatorError(() => pmm.check(), "ECORRUPT", "links back");
  });

  it("catches a list turned into a cycle", () => {
    const { pmm, ram, victim } = brokenLinkSetup();
    ram.write64(victim, victim, 0);
    expectAllocatorError(() => pmm.check(), "ECORRUPT");
  });

  it("catches a stray write over a free bitmap and over the region table", () => {
    const { pmm, ram, boot: bootAllocator } = boot("qemu-i440fx-128m");
    // Bitmaps first, the region table (one page) last: both from the bump allocator.
    const ranges = bootAllocator.allocated();
    const bitmaps = ranges[0]!.base;
    const table = ranges.at(-1)!.base + ranges.at(-1)!.length - PAGE_SIZE;
    const word = ram.read32(bitmaps);
    ram.write32(bitmaps, word ^ 0x10);
    expectAllocatorError(() => pmm.check(), "ECORRUPT");
    ram.write32(bitmaps, word);
    pmm.check();
    ram.write32(table, 0xdead);
    expectAllocatorError(() => pmm.check(), "ECORRUPT", "region table");
  });

  it("catches a frame marked both free and allocated", () => {
    const { pmm, ram, boot: bootAllocator } = boot("qemu-i440fx-128m");
    const addr = pmm.allocFrames(1);
    pmm.freeFrames(addr, 1);
    // Flip every allocated-bitmap bit of a word somewhere in the middle of the bitmaps.
    const meta = bootAllocator.allocated()[0]!;
    const probe = meta.base + Math.floor(meta.length / 2 / 4) * 4;
    ram.write32(probe, 0xffffffff);
    expectAllocatorError(() => pmm.check(), "ECORRUPT");
  });
});
