import { describe, expect, it } from "vitest";
import { GiB, KiB, MiB, PAGE_SIZE } from "@allockit/core";
import { boot, expectRejected } from "./helpers.js";

describe("BuddyPmm constraints", () => {
  it("zone DMA stays below 16 MiB, DMA32 in [16 MiB, 4 GiB), NORMAL above", () => {
    const { pmm } = boot("qemu-q35-4g");
    for (let i = 0; i < 50; i++) {
      const dma = pmm.allocFrames(1 + (i % 7), { zone: "DMA" });
      expect(dma).toBeGreaterThan(0);
      expect(dma + (1 + (i % 7)) * PAGE_SIZE).toBeLessThanOrEqual(16 * MiB);
      const dma32 = pmm.allocFrames(3, { zone: "DMA32" });
      expect(dma32).toBeGreaterThanOrEqual(16 * MiB);
      expect(dma32 + 3 * PAGE_SIZE).toBeLessThanOrEqual(4 * GiB);
      const normal = pmm.allocFrames(2, { zone: "NORMAL" });
      expect(normal).toBeGreaterThanOrEqual(4 * GiB);
    }
    expect(pmm.stats().zones.DMA.usedFrames).toBe(
      Array.from({ length: 50 }, (_, i) => 1 + (i % 7)).reduce((a, b) => a + b, 0),
    );
    pmm.check();
  });

  it("below: the whole run ends at or below the limit, even mid-block", () => {
    const { pmm } = boot("qemu-q35-4g");
    const limits = [5 * MiB + 12 * KiB, 17 * MiB, 1 * GiB + 8 * KiB, 3 * MiB + 4 * KiB];
    for (const below of limits) {
      for (const count of [1, 2, 3, 16]) {
        const addr = pmm.allocFrames(count, { below });
        expect(addr).toBeGreaterThan(0);
        expect(addr + count * PAGE_SIZE).toBeLessThanOrEqual(below);
        pmm.check();
      }
    }
  });

  it("below: finds the last frames under the limit and then says 0", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    // Usable low RAM is 4 KiB .. 0x9f000 (frame 0 and the EBDA page are out): 158 frames.
    const got: number[] = [];
    for (
      let addr = pmm.allocFrames(1, { below: 0xa0000 });
      addr !== 0;
      addr = pmm.allocFrames(1, { below: 0xa0000 })
    ) {
      got.push(addr);
    }
    expect(got.length).toBe(0x9f000 / PAGE_SIZE - 1);
    expect(Math.max(...got)).toBe(0x9e000);
    expect(pmm.allocFrames(1, { below: 0x9f000 })).toBe(0);
    for (const addr of got) pmm.freeFrames(addr, 1);
    pmm.check();
  });

  it("boundary: a run never crosses a multiple of it", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    for (let i = 0; i < 200; i++) {
      const count = 1 + (i % 13);
      const boundary = 64 * KiB;
      const addr = pmm.allocFrames(count, { boundary, zone: i % 2 === 0 ? "DMA" : undefined });
      expect(addr).toBeGreaterThan(0);
      expect(Math.floor(addr / boundary)).toBe(
        Math.floor((addr + count * PAGE_SIZE - 1) / boundary),
      );
    }
    pmm.check();
  });

  it("align, boundary and below together, exactly", () => {
    const { pmm } = boot("qemu-q35-4g");
    for (let i = 0; i < 40; i++) {
      const align = 2 ** (12 + (i % 9));
      const count = 1 + (i % 5);
      const below = 16 * MiB - i * 64 * KiB;
      const addr = pmm.allocFrames(count, { align, below, boundary: 128 * KiB });
      expect(addr).toBeGreaterThan(0);
      expect(addr % align).toBe(0);
      expect(addr + count * PAGE_SIZE).toBeLessThanOrEqual(below);
      expect(Math.floor(addr / (128 * KiB))).toBe(
        Math.floor((addr + count * PAGE_SIZE - 1) / (128 * KiB)),
      );
    }
    pmm.check();
  });

  it("a limit inside DMA makes an unconstrained zone choice fall back to DMA", () => {
    const { pmm } = boot("qemu-q35-4g");
    const addr = pmm.allocFrames(4, { below: 8 * MiB });
    expect(addr).toBeGreaterThan(0);
    expect(addr + 4 * PAGE_SIZE).toBeLessThanOrEqual(8 * MiB);
    expect(pmm.stats().zones.DMA.usedFrames).toBe(4);
  });

  it("custom zone limits move the zones", () => {
    const { pmm } = boot("qemu-i440fx-128m", { zoneLimits: { DMA: 8 * MiB, DMA32: 64 * MiB } });
    expect(pmm.stats().zones.NORMAL.totalFrames).toBeGreaterThan(0);
    const addr = pmm.allocFrames(1, { zone: "DMA32" });
    expect(addr).toBeGreaterThanOrEqual(8 * MiB);
    expect(addr).toBeLessThan(64 * MiB);
    expect(pmm.allocFrames(1)).toBeGreaterThanOrEqual(64 * MiB);
    pmm.check();
  });

  it("malformed constraints raise EINVAL, larger runs EUNSUPPORTED, nothing changes", () => {
    const { pmm } = boot("qemu-i440fx-128m");
    pmm.allocFrames(3);
    expectRejected(pmm, () => pmm.allocFrames(0), "EINVAL", "frame count 0");
    expectRejected(pmm, () => pmm.allocFrames(1.5), "EINVAL", "1.5");
    expectRejected(pmm, () => pmm.allocFrames(Number.NaN), "EINVAL", "NaN");
    expectRejected(pmm, () => pmm.allocFrames(1, { align: 3000 }), "EINVAL", "align 3000");
    expectRejected(pmm, () => pmm.allocFrames(4, { boundary: 8192 }), "EINVAL", "boundary");
    expectRejected(pmm, () => pmm.allocFrames(1, { below: -5 }), "EINVAL", "below");
    expectRejected(
      pmm,
      () => pmm.allocFrames(1, { zone: "HIGHMEM" as never }),
      "EINVAL",
      "HIGHMEM",
    );
    expectRejected(pmm, () => pmm.allocFrames(1, { node: 1 } as never), "EINVAL", "node");
    expectRejected(pmm, () => pmm.allocFrames(1025), "EUNSUPPORTED", "1025");
  });
});
