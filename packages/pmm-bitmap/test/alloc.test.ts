import { describe, expect, it } from "vitest";
import { countFrames, zoneBounds, zoneOf, type FrameConstraints, type Zone } from "@allockit/core";
import { memoryMapPreset } from "@allockit/x86-machine";
import { GiB, KiB, MiB, PAGE, bootPmm, expectRejectedUnchanged, insideRanges } from "./helpers.js";

const I440FX_128M = memoryMapPreset("qemu-i440fx-128m");
const Q35_4G = memoryMapPreset("qemu-q35-4g");

/** Asserts every constraint of a run that was handed out. */
function expectHonoured(addr: number, count: number, constraints: FrameConstraints): void {
  expect(addr).not.toBe(0);
  const end = addr + count * PAGE;
  expect(addr % PAGE).toBe(0);
  if (constraints.below !== undefined) expect(end).toBeLessThanOrEqual(constraints.below);
  if (constraints.align !== undefined) expect(addr % constraints.align).toBe(0);
  if (constraints.boundary !== undefined) {
    expect(Math.floor(addr / constraints.boundary)).toBe(
      Math.floor((end - 1) / constraints.boundary),
    );
  }
  if (constraints.zone !== undefined) {
    const [low, high] = zoneBounds(constraints.zone);
    expect(addr).toBeGreaterThanOrEqual(low);
    expect(end).toBeLessThanOrEqual(high);
  }
}

describe("BitmapPmm single frames", () => {
  it("hands out NORMAL, then DMA32, then DMA, each frame once, until 0", () => {
    const { pmm, managed } = bootPmm(Q35_4G);
    const total = countFrames(managed);
    // A million frames: collected in a typed array and checked after, not one expect each.
    const handedOut = new Float64Array(total);
    const order: Zone[] = [];
    for (let i = 0; i < total; i++) {
      const addr = pmm.allocFrames(1);
      handedOut[i] = addr;
      const zone = zoneOf(addr);
      if (order[order.length - 1] !== zone) order.push(zone);
    }
    expect(order).toEqual(["NORMAL", "DMA32", "DMA"]);
    expect(pmm.allocFrames(1)).toBe(0);
    expect(pmm.allocFrames(1, { zone: "DMA" })).toBe(0);
    expect(pmm.stats().freeFrames).toBe(0);
    pmm.check();
    const sorted = handedOut.slice().sort();
    let outside = 0;
    let repeated = 0;
    let range = 0;
    for (let i = 0; i < total; i++) {
      const addr = sorted[i]!;
      if (i > 0 && addr === sorted[i - 1]) repeated++;
      while (range < managed.length && addr >= managed[range]!.base + managed[range]!.length) {
        range++;
      }
      if (range === managed.length || addr < managed[range]!.base) outside++;
    }
    expect({ outside, repeated }).toEqual({ outside: 0, repeated: 0 });
    for (let i = 0; i < total; i++) pmm.freeFrames(handedOut[i]!, 1);
    expect(pmm.stats().freeFrames).toBe(total);
    expect(pmm.stats().usedFrames).toBe(0);
    pmm.check();
  });

  it("allocates everything as runs, then frees it all back to the initial count", () => {
    const { pmm, managed } = bootPmm(I440FX_128M);
    const initial = pmm.stats().freeFrames;
    const runs: Array<[number, number]> = [];
    for (const count of [64, 8, 1]) {
      for (let addr = pmm.allocFrames(count); addr !== 0; addr = pmm.allocFrames(count)) {
        expect(insideRanges(managed, addr, count * PAGE)).toBe(true);
        runs.push([addr, count]);
      }
    }
    expect(pmm.stats().freeFrames).toBe(0);
    pmm.check();
    for (const [addr, count] of runs.reverse()) pmm.freeFrames(addr, count);
    expect(pmm.stats().freeFrames).toBe(initial);
    pmm.check();
  });

  it("next-fit moves on past freed frames; first-fit reuses the lowest one", () => {
    const next = bootPmm(I440FX_128M).pmm;
    const a = next.allocFrames(1);
    next.freeFrames(a, 1);
    expect(next.allocFrames(1)).toBe(a + PAGE);

    const first = bootPmm(I440FX_128M, { fit: "first" }).pmm;
    const b = first.allocFrames(1);
    first.allocFrames(1);
    first.freeFrames(b, 1);
    expect(first.allocFrames(1)).toBe(b);
  });

  it("wraps the next-fit hint around to frames freed behind it", () => {
    const { pmm } = bootPmm(I440FX_128M);
    const taken: number[] = [];
    for (let addr = pmm.allocFrames(1); addr !== 0; addr = pmm.allocFrames(1)) taken.push(addr);
    const middle = taken[taken.length >> 1]!;
    pmm.freeFrames(middle, 1);
    expect(pmm.allocFrames(1)).toBe(middle);
    expect(pmm.allocFrames(1)).toBe(0);
  });
});

describe("BitmapPmm constrained runs", () => {
  const cases: Array<[number, FrameConstraints]> = [
    [1, { zone: "DMA" }],
    [16, { zone: "DMA" }],
    [1, { zone: "DMA32" }],
    [1, { zone: "NORMAL" }],
    [1, { below: 16 * MiB }],
    [3, { below: 2 * MiB }],
    [256, { below: 4 * GiB }],
    [1, { align: 64 * KiB }],
    [512, { align: 2 * MiB }],
    [1024, { align: 4 * MiB }],
    [262144, { align: GiB }],
    [16, { boundary: 64 * KiB }],
    [16, { boundary: 64 * KiB, align: 8 * KiB }],
    [3, { zone: "DMA", align: 16 * KiB, boundary: 64 * KiB }],
    [8, { zone: "DMA32", below: 32 * MiB, align: 32 * KiB }],
    [1, { zone: "DMA", below: 0x100000 }],
    [2, { align: 1 }],
  ];

  it.each(cases)("allocFrames(%i, %j) honours every constraint", (count, constraints) => {
    const { pmm } = bootPmm(Q35_4G);
    // Fragment memory first, so the constraints have to skip taken frames.
    for (let i = 0; i < 64; i++) pmm.allocFrames(1, { zone: "DMA" });
    for (let i = 0; i < 64; i++) pmm.allocFrames(3);
    const before = pmm.stats().freeFrames;
    const addr = pmm.allocFrames(count, constraints);
    expectHonoured(addr, count, constraints);
    expect(pmm.stats().freeFrames).toBe(before - count);
    pmm.check();
    pmm.freeFrames(addr, count);
    expect(pmm.stats().freeFrames).toBe(before);
  });

  it("keeps honouring DMA constraints until the DMA zone runs dry", () => {
    const { pmm } = bootPmm(Q35_4G);
    const constraints: FrameConstraints = { zone: "DMA", align: 8 * KiB, boundary: 64 * KiB };
    let runs = 0;
    for (let addr = pmm.allocFrames(2, constraints); addr !== 0;) {
      expectHonoured(addr, 2, constraints);
      runs++;
      addr = pmm.allocFrames(2, constraints);
    }
    expect(runs).toBeGreaterThan(1000);
    expect(pmm.stats().zones.DMA.freeFrames).toBeLessThan(2 * 16);
    // DMA32 and NORMAL were never touched.
    expect(pmm.stats().zones.DMA32.usedFrames).toBe(0);
    expect(pmm.stats().zones.NORMAL.usedFrames).toBe(0);
    pmm.check();
  });

  it("hands out naturally aligned 2 MiB, 4 MiB and 1 GiB pages", () => {
    const { pmm } = bootPmm(Q35_4G);
    for (const size of pmm.capabilities.pageSizes) {
      const addr = pmm.allocFrames(size / PAGE, { align: size });
      expectHonoured(addr, size / PAGE, { align: size });
    }
    pmm.check();
  });

  it("returns 0 when no run fits, changing nothing", () => {
    const { pmm } = bootPmm(Q35_4G);
    const before = pmm.stats();
    // The DMA zone has no 1 GiB-aligned run; nothing lies below frame 1; no 4 GiB run in RAM.
    expect(pmm.allocFrames(2, { zone: "DMA", align: GiB })).toBe(0);
    expect(pmm.allocFrames(1, { below: PAGE })).toBe(0);
    expect(pmm.allocFrames(2, { below: 0x2000 })).toBe(0);
    expect(pmm.allocFrames(4096, { zone: "DMA" })).toBe(0);
    expect(pmm.allocFrames(1, { zone: "NORMAL", below: 4 * GiB })).toBe(0);
    expect(pmm.stats()).toEqual(before);
    pmm.check();
  });

  it("finds the one spot where a run fits in fragmented memory", () => {
    const { pmm } = bootPmm(I440FX_128M);
    const frames: number[] = [];
    for (let addr = pmm.allocFrames(1); addr !== 0; addr = pmm.allocFrames(1)) frames.push(addr);
    frames.sort((a, b) => a - b);
    // Free every other frame: plenty free, yet no two adjacent.
    for (let i = 0; i < frames.length; i += 2) pmm.freeFrames(frames[i]!, 1);
    expect(pmm.allocFrames(2)).toBe(0);
    // Open exactly one 5-frame hole, starting one frame past a 16 KiB boundary, in DMA32.
    const at = frames.findIndex(
      (addr, i) =>
        i % 2 === 0 &&
        addr >= 40 * MiB &&
        (addr / PAGE) % 4 === 1 &&
        frames[i + 4] === addr + 4 * PAGE,
    );
    pmm.freeFrames(frames[at + 1]!, 1);
    pmm.freeFrames(frames[at + 3]!, 1);
    const hole = frames[at]!;
    expect(pmm.allocFrames(6)).toBe(0);
    expect(pmm.allocFrames(3, { align: 16 * KiB })).toBe(0);
    expect(pmm.allocFrames(2, { align: 16 * KiB })).toBe(hole + 3 * PAGE);
    expect(pmm.allocFrames(3)).toBe(hole);
    expect(pmm.allocFrames(2)).toBe(0);
    pmm.check();
  });
});

describe("BitmapPmm.allocFrames argument errors", () => {
  const { pmm } = bootPmm(I440FX_128M);

  it.each([
    [0, undefined, "EINVAL", "frame count 0"],
    [-1, undefined, "EINVAL", "frame count -1"],
    [1.5, undefined, "EINVAL", "1.5"],
    [Number.NaN, undefined, "EINVAL", "NaN"],
    [1, { align: 3 * PAGE }, "EINVAL", "align 12288"],
    [1, { boundary: 6 * PAGE }, "EINVAL", "boundary 24576"],
    [4, { boundary: 2 * PAGE }, "EINVAL", "smaller than the run"],
    [1, { below: 0 }, "EINVAL", "below 0"],
    [1, { zone: "HIGHMEM" as Zone }, "EINVAL", '"HIGHMEM"'],
    [1, { colour: 3 } as FrameConstraints, "EINVAL", "colour"],
    [2 ** 40, undefined, "EUNSUPPORTED", "at most"],
  ] as const)("allocFrames(%s, %j) → %s", (count, constraints, code, mentions) => {
    expectRejectedUnchanged(
      pmm,
      () => pmm.allocFrames(count, constraints as FrameConstraints | undefined),
      code,
      mentions,
    );
  });
});
