import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ZONES,
  isAllocatorError,
  zoneBounds,
  zoneOf,
  type FrameConstraints,
  type MemoryMapEntry,
  type Zone,
  type ZoneLimits,
} from "@allockit/core";
import type { FitPolicy } from "@allockit/pmm-bitmap";
import { MiB, PAGE, bootPmm, fuzzRuns } from "./helpers.js";

/**
 * Model-based runs: random sequences of allocations (with random constraints), frees (good,
 * double, foreign) and reservations, each checked against a plain per-frame model, including
 * "0 only when no run fits anywhere" and the NORMAL, DMA32, DMA preference.
 */

/** 12 MiB with holes, and zone limits that put all three zones (each in pieces) in it. */
const SMALL_MAP: MemoryMapEntry[] = [
  { base: 0, length: 0x9fc00, type: "usable" },
  { base: 0x9fc00, length: 0x400, type: "reserved" },
  { base: 0xf0000, length: 0x10000, type: "reserved" },
  { base: 0x100000, length: 0x700000, type: "usable" },
  { base: 0x800000, length: 0x100000, type: "reserved" },
  { base: 0x900000, length: 0x200000, type: "usable" },
  { base: 0xb00000, length: 0x10000, type: "reserved" },
  { base: 0xb10000, length: 0xf0000, type: "usable" },
];
const LIMITS: ZoneLimits = { DMA: 4 * MiB, DMA32: 10 * MiB };
/** Frames the random frees and reservations pick from: all of RAM and a little beyond. */
const FRAME_SPAN = (13 * MiB) / PAGE;
const PREFERENCE: readonly Zone[] = ["NORMAL", "DMA32", "DMA"];

const UNMANAGED = 0;
const FREE = 1;
const ALLOCATED = 2;

type Operation =
  | { kind: "alloc"; count: number; constraints: FrameConstraints | undefined }
  | { kind: "free-live"; pick: number }
  | { kind: "free-any"; frame: number; count: number }
  | { kind: "reserve"; frame: number; count: number };

const constraintsArbitrary: fc.Arbitrary<FrameConstraints | undefined> = fc.option(
  fc.record(
    {
      zone: fc.constantFrom<Zone>("DMA", "DMA32", "NORMAL"),
      below: fc.integer({ min: 1, max: 13 * MiB }),
      align: fc.integer({ min: 0, max: 22 }).map((shift) => 2 ** shift),
      boundary: fc.integer({ min: 12, max: 22 }).map((shift) => 2 ** shift),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined, freq: 3 },
);

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("alloc" as const),
      count: fc.oneof(
        fc.constant(1),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 300 }),
      ),
      constraints: constraintsArbitrary,
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("free-live" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("free-any" as const),
      frame: fc.integer({ min: 0, max: FRAME_SPAN }),
      count: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("reserve" as const),
      frame: fc.integer({ min: 0, max: FRAME_SPAN }),
      count: fc.integer({ min: 1, max: 40 }),
    }),
  },
);

/** Start frame of the lowest run in `zone` meeting the request, or -1 (brute force). */
function lowestFit(
  state: Uint8Array,
  zone: Zone,
  count: number,
  constraints: FrameConstraints,
): number {
  const [zoneLow, zoneHigh] = zoneBounds(zone, LIMITS);
  const high = Math.min(zoneHigh, constraints.below ?? Infinity, state.length * PAGE);
  const align = Math.max(PAGE, constraints.align ?? PAGE);
  for (let start = zoneLow / PAGE; (start + count) * PAGE <= high; start++) {
    const addr = start * PAGE;
    if (addr % align !== 0) continue;
    const boundary = constraints.boundary;
    if (
      boundary !== undefined &&
      Math.floor(addr / boundary) !== Math.floor((addr + count * PAGE - 1) / boundary)
    ) {
      continue;
    }
    let free = true;
    for (let frame = start; frame < start + count && free; frame++) free = state[frame] === FREE;
    if (free) return start;
  }
  return -1;
}

/** What freeing `[frame, frame + count)` must raise, judged by its first bad frame. */
function expectedFreeError(state: Uint8Array, frame: number, count: number): string | undefined {
  for (let at = frame; at < frame + count; at++) {
    const s = at < state.length ? state[at] : UNMANAGED;
    if (s === UNMANAGED) return "EFAULT";
    if (s === FREE) return "EDOUBLEFREE";
  }
  return undefined;
}

function errorCode(run: () => void): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (isAllocatorError(error)) return error.code;
    throw error;
  }
}

/** The model: one state per frame, with free counts per zone and a used count kept up to date. */
class FrameModel {
  readonly state = new Uint8Array(FRAME_SPAN + 8);
  private readonly zoneOfFrame = new Uint8Array(FRAME_SPAN + 8);
  readonly freeByZone = new Map<Zone, number>([
    ["DMA", 0],
    ["DMA32", 0],
    ["NORMAL", 0],
  ]);
  used = 0;

  constructor() {
    for (let frame = 0; frame < this.zoneOfFrame.length; frame++) {
      this.zoneOfFrame[frame] = ZONES.indexOf(zoneOf(frame * PAGE, LIMITS));
    }
  }

  get free(): number {
    let total = 0;
    for (const n of this.freeByZone.values()) total += n;
    return total;
  }

  set(from: number, to: number, value: number): void {
    for (let frame = from; frame < to; frame++) {
      const old = this.state[frame]!;
      if (old === value) continue;
      const zone = ZONES[this.zoneOfFrame[frame]!]!;
      if (old === FREE) this.freeByZone.set(zone, this.freeByZone.get(zone)! - 1);
      if (value === FREE) this.freeByZone.set(zone, this.freeByZone.get(zone)! + 1);
      if (old === ALLOCATED) this.used--;
      if (value === ALLOCATED) this.used++;
      this.state[frame] = value;
    }
  }

  /** The first zone of `zones` with a run that fits (brute force unless any free frame does). */
  fittingZone(
    zones: readonly Zone[],
    count: number,
    constraints: FrameConstraints,
  ): Zone | undefined {
    const anyFrame =
      count === 1 &&
      constraints.below === undefined &&
      constraints.align === undefined &&
      constraints.boundary === undefined;
    return zones.find((zone) =>
      anyFrame
        ? this.freeByZone.get(zone)! > 0
        : lowestFit(this.state, zone, count, constraints) >= 0,
    );
  }
}

function runModel(operations: readonly Operation[], fit: FitPolicy): void {
  const { pmm, managed } = bootPmm(SMALL_MAP, { zoneLimits: LIMITS, fit });
  const model = new FrameModel();
  const state = model.state;
  for (const range of managed) {
    model.set(range.base / PAGE, (range.base + range.length) / PAGE, FREE);
  }
  const live: Array<[number, number]> = [];

  operations.forEach((op, step) => {
    // Messages are built only on failure: the loop runs millions of times under fuzzing.
    const agree = (actual: unknown, expected: unknown, what = "") => {
      if (actual !== expected) {
        expect(actual, `step ${step}: ${JSON.stringify(op)}${what}`).toBe(expected);
      }
    };
    if (op.kind === "alloc") {
      const constraints = op.constraints ?? {};
      if (constraints.boundary !== undefined && constraints.boundary < op.count * PAGE) {
        agree(
          errorCode(() => pmm.allocFrames(op.count, op.constraints)),
          "EINVAL",
        );
        return;
      }
      const zones = constraints.zone === undefined ? PREFERENCE : [constraints.zone];
      const fitting = model.fittingZone(zones, op.count, constraints);
      const addr = pmm.allocFrames(op.count, op.constraints);
      if (fitting === undefined) {
        agree(addr, 0, ": no run fits");
        return;
      }
      agree(addr !== 0, true, `: a run fits in ${fitting}`);
      const [zoneLow, zoneHigh] = zoneBounds(fitting, LIMITS);
      const end = addr + op.count * PAGE;
      agree(addr >= zoneLow && end <= zoneHigh, true, `: ${addr} is not in ${fitting}`);
      agree(end <= (constraints.below ?? end), true, `: ${addr} ends above below`);
      agree(addr % (constraints.align ?? 1), 0, `: ${addr} is not aligned`);
      const boundary = constraints.boundary ?? Infinity;
      agree(Math.floor(addr / boundary), Math.floor((end - 1) / boundary), ": crosses boundary");
      const notFree = state.subarray(addr / PAGE, end / PAGE).findIndex((s) => s !== FREE);
      agree(notFree, -1, `: frame ${addr / PAGE + notFree} handed out again`);
      model.set(addr / PAGE, end / PAGE, ALLOCATED);
      live.push([addr / PAGE, op.count]);
    } else if (op.kind === "free-live" || op.kind === "free-any") {
      let frame: number;
      let frames: number;
      if (op.kind === "free-live") {
        if (live.length === 0) return;
        [frame, frames] = live.splice(op.pick % live.length, 1)[0]!;
      } else {
        [frame, frames] = [op.frame, op.count];
      }
      const expected = expectedFreeError(state, frame, frames);
      agree(
        errorCode(() => pmm.freeFrames(frame * PAGE, frames)),
        expected,
      );
      if (expected === undefined) model.set(frame, frame + frames, FREE);
    } else {
      const range = { base: op.frame * PAGE, length: op.count * PAGE };
      const allocated = state.subarray(op.frame, op.frame + op.count).includes(ALLOCATED);
      agree(
        errorCode(() => pmm.reserve(range)),
        allocated ? "EINVAL" : undefined,
      );
      if (!allocated) model.set(op.frame, op.frame + op.count, UNMANAGED);
    }
    const stats = pmm.stats();
    agree(stats.freeFrames, model.free, ": free frames");
    agree(stats.usedFrames, model.used, ": used frames");
    if (step % 16 === 0) pmm.check();
  });
  pmm.check();
}

describe("BitmapPmm against a per-frame model", () => {
  it("agrees on random alloc / free / reserve sequences", () => {
    fc.assert(
      fc.property(
        fc.array(operationArbitrary, { minLength: 1, maxLength: 120 }),
        fc.constantFrom<FitPolicy>("next", "first"),
        (operations, fit) => runModel(operations, fit),
      ),
      { numRuns: fuzzRuns(300) },
    );
  });

  it("agrees when memory is nearly exhausted by single frames", () => {
    fc.assert(
      fc.property(fc.array(operationArbitrary, { minLength: 1, maxLength: 60 }), (operations) => {
        const fill: Operation[] = Array.from({ length: 2100 }, () => ({
          kind: "alloc" as const,
          count: 1,
          constraints: undefined,
        }));
        runModel([...fill, ...operations], "next");
      }),
      { numRuns: fuzzRuns(30) },
    );
  });
});
