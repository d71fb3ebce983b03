import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BOOT_ALLOCATOR_RANGE_NAME,
  BumpBootAllocator,
  type MemoryMapEntry,
  type MemoryType,
  type PhysRange,
} from "@allockit/core";
import { entry, expectAllocatorError, fuzzRuns } from "./helpers.js";

const PAGE = 4096;
const MiB = 2 ** 20;
const GiB = 2 ** 30;

function range(base: number, end: number, name?: string): PhysRange {
  return name === undefined ? { base, length: end - base } : { base, length: end - base, name };
}

/** A PC-like map: low RAM, the BIOS hole, 127 MiB above 1 MiB with an ACPI tail. */
const PC_MAP = [
  entry(0, 0x9fc00, "usable"),
  entry(0x9fc00, 0xa0000, "reserved"),
  entry(0xf0000, 0x100000, "reserved"),
  entry(0x100000, 0x7fe0000, "usable"),
  entry(0x7fe0000, 0x8000000, "acpi-reclaimable"),
];
const KERNEL = range(0x100000, 0x180000, "kernel");

describe("BumpBootAllocator", () => {
  it("bumps upward from 1 MiB past the kernel image, honouring alignment", () => {
    const boot = new BumpBootAllocator(PC_MAP, { reserved: [KERNEL] });
    expect(boot.alloc(16)).toBe(0x180000);
    expect(boot.alloc(3, 1)).toBe(0x180010);
    expect(boot.alloc(8)).toBe(0x180018); // default alignment 8
    expect(boot.alloc(1, 64)).toBe(0x180040);
    expect(boot.allocFrames(2)).toBe(0x181000);
    expect(boot.alloc(8)).toBe(0x183000);
  });

  it("starts right after the kernel when no start is given and the kernel is reserved", () => {
    const boot = new BumpBootAllocator(PC_MAP, { reserved: [range(0x100000, 0x123456, "kernel")] });
    // The kernel is rounded out to whole pages.
    expect(boot.alloc(1, 1)).toBe(0x124000);
  });

  it("starts at an explicit start, even an unaligned one", () => {
    const boot = new BumpBootAllocator(PC_MAP, { start: 0x200123 });
    expect(boot.alloc(1, 1)).toBe(0x200123);
    expect(boot.alloc(1, 16)).toBe(0x200130);
  });

  it("skips holes and reserved ranges, and what is left of a range a request did not fit", () => {
    const map = [entry(0x100000, 0x103000, "usable"), entry(0x200000, 0x300000, "usable")];
    const boot = new BumpBootAllocator(map, { reserved: [range(0x201000, 0x202000, "module 0")] });
    expect(boot.allocFrames(2)).toBe(0x100000);
    // Two frames do not fit in the one frame left, nor in the one frame before the module.
    expect(boot.allocFrames(2)).toBe(0x202000);
    // Bumping never goes back: the frame left at 0x102000 and 0x200000 stay unused.
    expect(boot.allocFrames(1)).toBe(0x204000);
  });

  it("falls back to memory below start only when nothing above it fits", () => {
    const map = [entry(0, 0x9f000, "usable"), entry(0x100000, 0x104000, "usable")];
    const boot = new BumpBootAllocator(map);
    expect(boot.allocFrames(3)).toBe(0x100000);
    expect(boot.allocFrames(2)).toBe(0x1000); // frame 0 is never handed out
    expect(boot.allocFrames(1)).toBe(0x103000); // the area above start still comes first
    expect(boot.allocFrames(1)).toBe(0x3000);
    expect(boot.remaining()).toEqual([range(0x4000, 0x9f000)]);
  });

  it("never lets a fallback block run past start into the area above it", () => {
    const map = [entry(0, 0x200000, "usable")];
    const boot = new BumpBootAllocator(map, { start: 0x100000 });
    expect(boot.alloc(0x100000, PAGE)).toBe(0x100000);
    // 1 MiB still free below start but frame 0 is out: 1 MiB no longer fits anywhere.
    expect(boot.alloc(0x100000, PAGE)).toBe(0);
    expect(boot.alloc(0x100000 - PAGE, PAGE)).toBe(0x1000);
  });

  it("fits a block that ends exactly at the end of a range, and not one byte more", () => {
    const map = [entry(0x100000, 0x103000, "usable")];
    expect(new BumpBootAllocator(map).alloc(0x3000, PAGE)).toBe(0x100000);
    expect(new BumpBootAllocator(map).alloc(0x3001, PAGE)).toBe(0);
    const boot = new BumpBootAllocator(map);
    expect(boot.alloc(0x1000)).toBe(0x100000);
    expect(boot.alloc(0x2001, 1)).toBe(0);
    expect(boot.alloc(0x2000, 1)).toBe(0x101000);
  });

  it("returns 0 when nothing fits, without moving the cursor", () => {
    const boot = new BumpBootAllocator(PC_MAP, { reserved: [KERNEL] });
    expect(boot.alloc(8)).toBe(0x180000);
    expect(boot.alloc(GiB)).toBe(0);
    expect(boot.allocFrames(0x8000)).toBe(0);
    expect(boot.alloc(8, 2 ** 40)).toBe(0);
    expect(boot.allocFrames(2 ** 45)).toBe(0);
    expect(boot.alloc(Number.MAX_SAFE_INTEGER)).toBe(0);
    expect(boot.alloc(8)).toBe(0x180008);
  });

  it("hands out nothing from a map with no usable RAM beyond frame 0", () => {
    for (const map of [[], [entry(0, PAGE, "usable"), entry(PAGE, 0x100000, "reserved")]]) {
      const boot = new BumpBootAllocator(map);
      expect(boot.alloc(1)).toBe(0);
      expect(boot.allocFrames(1)).toBe(0);
      expect(boot.allocated()).toEqual([]);
    }
  });

  it("works with RAM above 4 GiB and addresses beyond 32 bits", () => {
    const map = [
      entry(0, 0x9f000, "usable"),
      entry(0xfff00000, 0x100100000, "usable"), // crosses the 4 GiB line
      entry(0x200000000, 0x600000000, "usable"), // 8 GiB .. 24 GiB
      entry(2 ** 51, 2 ** 51 + GiB, "usable"),
    ];
    const boot = new BumpBootAllocator(map);
    expect(boot.alloc(MiB, PAGE)).toBe(0xfff00000);
    expect(boot.allocFrames(1)).toBe(0x100000000);
    expect(boot.alloc(8, 2 ** 34)).toBe(0x400000000);
    expect(boot.alloc(4 * GiB)).toBe(0x400000008);
    expect(boot.alloc(2 * GiB)).toBe(0x500000008);
    expect(boot.alloc(3 * GiB)).toBe(0);
    expect(boot.alloc(GiB, 2 ** 40)).toBe(2 ** 51);
    expect(boot.allocated()).toEqual([
      range(0xfff00000, 0x100001000, BOOT_ALLOCATOR_RANGE_NAME),
      range(0x400000000, 0x580000008, BOOT_ALLOCATOR_RANGE_NAME),
      range(2 ** 51, 2 ** 51 + GiB, BOOT_ALLOCATOR_RANGE_NAME),
    ]);
  });

  it("reports what it handed out, merged, as copies", () => {
    const boot = new BumpBootAllocator(PC_MAP, { reserved: [KERNEL] });
    boot.alloc(8);
    boot.alloc(8);
    boot.allocFrames(1);
    const allocated = boot.allocated();
    expect(allocated).toEqual([
      range(0x180000, 0x180010, BOOT_ALLOCATOR_RANGE_NAME),
      range(0x181000, 0x182000, BOOT_ALLOCATOR_RANGE_NAME),
    ]);
    allocated[0]!.length = 0;
    allocated.pop();
    expect(boot.allocated()).toHaveLength(2);
    expect(boot.allocated()[0]!.length).toBe(16);
  });

  describe("bad arguments throw EINVAL naming the value and change nothing", () => {
    it.each([0, -8, 1.5, Number.NaN, Infinity, 2 ** 53])("size %s", (size) => {
      const boot = new BumpBootAllocator(PC_MAP, { reserved: [KERNEL] });
      expectAllocatorError(() => boot.alloc(size), "EINVAL", String(size));
      expect(boot.allocated()).toEqual([]);
      expect(boot.alloc(8)).toBe(0x180000);
    });

    it("a size that is not a number", () => {
      const boot = new BumpBootAllocator(PC_MAP);
      expectAllocatorError(() => boot.alloc("64" as unknown as number), "EINVAL", '"64"');
    });

    it.each([0, 3, 12, -8, 0.5, Number.NaN, 2 ** 53])("alignment %s", (align) => {
      const boot = new BumpBootAllocator(PC_MAP, { reserved: [KERNEL] });
      boot.alloc(1, 1);
      expectAllocatorError(() => boot.alloc(8, align), "EINVAL", `alignment ${String(align)}`);
      expect(boot.alloc(1, 1)).toBe(0x180001);
    });

    it.each([0, -1, 2.5, Number.NaN])("frame count %s", (count) => {
      const boot = new BumpBootAllocator(PC_MAP, { reserved: [KERNEL] });
      expectAllocatorError(() => boot.allocFrames(count), "EINVAL", `frame count ${String(count)}`);
      expect(boot.allocFrames(1)).toBe(0x180000);
    });

    it.each([-1, 0.5, 2 ** 53, 2 ** 52 + 1])("start %s", (start) => {
      expectAllocatorError(() => new BumpBootAllocator(PC_MAP, { start }), "EINVAL", String(start));
    });

    it("a malformed map entry or reserved range", () => {
      expectAllocatorError(
        () =>
          new BumpBootAllocator([
            entry(0, PAGE, "usable"),
            { base: -PAGE, length: PAGE, type: "usable" },
          ]),
        "EINVAL",
        "-4096",
      );
      expectAllocatorError(
        () =>
          new BumpBootAllocator(PC_MAP, {
            reserved: [{ base: 0x100000, length: 0.25, name: "initrd" }],
          }),
        "EINVAL",
        '"initrd"',
      );
    });
  });

  describe("cap", () => {
    it("ends allocation and returns what was handed out", () => {
      const boot = new BumpBootAllocator(PC_MAP, { reserved: [KERNEL] });
      boot.allocFrames(4);
      expect(boot.capped).toBe(false);
      const handedOut = boot.cap();
      expect(boot.capped).toBe(true);
      expect(handedOut).toEqual([range(0x180000, 0x184000, BOOT_ALLOCATOR_RANGE_NAME)]);
      expectAllocatorError(() => boot.alloc(8), "EINVAL", "boot allocator was capped");
      expectAllocatorError(() => boot.allocFrames(1), "EINVAL", "boot allocator was capped");
      // Capping again is harmless and reports the same.
      expect(boot.cap()).toEqual(handedOut);
      expect(boot.allocated()).toEqual(handedOut);
    });

    it("throws the capped error even for otherwise valid requests that would not fit", () => {
      const boot = new BumpBootAllocator([]);
      boot.cap();
      expectAllocatorError(() => boot.alloc(8), "EINVAL", "capped");
    });
  });
});

// ---- property: messy maps, reserved ranges and alloc sequences against a model ----

/**
 * The test machine: 3 MiB of address space in 1 KiB units (so usable edges are unaligned),
 * placed at 0 or above 4 GiB. The model decides per unit which type wins, by brute force.
 */
const UNIT = 1024;
const UNITS_PER_PAGE = PAGE / UNIT;
const SPACE_UNITS = 3072;
const SPACE_PAGES = SPACE_UNITS / UNITS_PER_PAGE;
const ORDER: MemoryType[] = [
  "usable",
  "acpi-reclaimable",
  "acpi-nvs",
  "reserved",
  "unknown",
  "bad",
];

interface Scenario {
  offset: number;
  entries: MemoryMapEntry[];
  reserved: PhysRange[];
  start: number | undefined;
  requests: Request[];
}

/**
 * "fill" asks for whatever is left in the range the cursor is in, give or take a byte, so exact
 * fits and one-byte overruns at range ends come up often; its size is worked out at run time.
 */
type Request =
  | { kind: "alloc"; size: number; align: number | undefined }
  | { kind: "frames"; count: number }
  | { kind: "fill"; delta: number; align: number };

const typeArbitrary = fc.oneof(
  { arbitrary: fc.constant<MemoryType>("usable"), weight: 5 },
  { arbitrary: fc.constantFrom<MemoryType>(...ORDER), weight: 2 },
);

const entryArbitrary = fc
  .record({
    baseUnit: fc.integer({ min: 0, max: SPACE_UNITS - 1 }),
    lengthUnits: fc.oneof(
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: SPACE_UNITS }),
    ),
    type: typeArbitrary,
    raw: fc.option(fc.constantFrom(7, 12), { nil: undefined }),
  })
  .map((e) => ({ ...e, lengthUnits: Math.min(e.lengthUnits, SPACE_UNITS - e.baseUnit) }));

const requestArbitrary: fc.Arbitrary<Request> = fc.oneof(
  fc.record({
    kind: fc.constant("alloc" as const),
    size: fc.oneof(
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 1, max: 16 * 1024 }),
      fc.integer({ min: 1, max: 1024 * 1024 }),
      // Whole pages give or take a byte: exact fits and one-byte overruns at range ends.
      fc
        .tuple(fc.integer({ min: 1, max: 32 }), fc.constantFrom(-1, 0, 1))
        .map(([pages, delta]) => pages * PAGE + delta),
    ),
    align: fc.option(
      fc.integer({ min: 0, max: 22 }).map((shift) => 2 ** shift),
      { nil: undefined },
    ),
  }),
  fc.record({ kind: fc.constant("frames" as const), count: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    kind: fc.constant("fill" as const),
    delta: fc.constantFrom(-1, 0, 1),
    align: fc.constantFrom(1, 8, PAGE),
  }),
);

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc
  .record({
    offset: fc.constantFrom(0, 4 * GiB),
    entries: fc.array(entryArbitrary, { maxLength: 14 }),
    reserved: fc.array(
      fc.record({
        base: fc.integer({ min: 0, max: SPACE_UNITS * UNIT - 1 }),
        length: fc.oneof(
          fc.integer({ min: 0, max: 3 * PAGE }),
          fc.integer({ min: 0, max: 512 * 1024 }),
        ),
      }),
      { maxLength: 5 },
    ),
    start: fc.option(fc.integer({ min: 0, max: SPACE_UNITS * UNIT }), { nil: undefined }),
    requests: fc.array(requestArbitrary, { minLength: 1, maxLength: 40, size: "max" }),
  })
  .map(({ offset, entries, reserved, start, requests }) => ({
    offset,
    entries: entries.map((e) => {
      const base = offset + e.baseUnit * UNIT;
      return entry(
        base,
        base + e.lengthUnits * UNIT,
        e.type,
        e.type === "unknown" ? e.raw : undefined,
      );
    }),
    reserved: reserved.map((r, i) => ({
      base: offset + r.base,
      length: r.length,
      name: `reserved ${i}`,
    })),
    start: start === undefined ? undefined : offset + start,
    requests,
  }));

/** Type of the most restrictive entry covering the unit starting at `address` (brute force). */
function winningType(entries: readonly MemoryMapEntry[], address: number): MemoryType | undefined {
  let best: MemoryType | undefined;
  for (const e of entries) {
    if (address < e.base || address >= e.base + e.length) continue;
    if (best === undefined || ORDER.indexOf(e.type) > ORDER.indexOf(best)) best = e.type;
  }
  return best;
}

/** Pages an allocator may use: all four units usable, clear of reserved ranges, not frame 0. */
function allowedPages(scenario: Scenario): boolean[] {
  const allowed: boolean[] = [];
  for (let page = 0; page < SPACE_PAGES; page++) {
    const start = scenario.offset + page * PAGE;
    let usable = start !== 0;
    for (let unit = 0; unit < UNITS_PER_PAGE && usable; unit++) {
      usable = winningType(scenario.entries, start + unit * UNIT) === "usable";
    }
    const hitsReserved = scenario.reserved.some(
      (r) => r.length > 0 && r.base < start + PAGE && r.base + r.length > start,
    );
    allowed.push(usable && !hitsReserved);
  }
  return allowed;
}

/** Maximal runs of allowed pages, as [base, end) addresses. */
function allowedRuns(scenario: Scenario, allowed: readonly boolean[]): [number, number][] {
  const runs: [number, number][] = [];
  for (let page = 0; page < SPACE_PAGES; page++) {
    if (!allowed[page]) continue;
    const start = scenario.offset + page * PAGE;
    const last = runs[runs.length - 1];
    if (last !== undefined && last[1] === start) last[1] = start + PAGE;
    else runs.push([start, start + PAGE]);
  }
  return runs;
}

/** The lowest aligned address >= cursor whose block fits inside one run clipped to [from, to). */
function firstFit(
  runs: readonly [number, number][],
  from: number,
  to: number,
  cursor: number,
  size: number,
  align: number,
): number {
  for (const [runBase, runEnd] of runs) {
    const base = Math.max(runBase, from, cursor);
    const end = Math.min(runEnd, to);
    const address = Math.ceil(base / align) * align;
    if (address + size <= end) return address;
  }
  return 0;
}

/** Bytes from the next aligned address at or after the cursor to the end of its run (above start). */
function spaceLeftInCurrentRun(
  runs: readonly [number, number][],
  start: number,
  cursor: number,
  align: number,
): number {
  for (const [runBase, runEnd] of runs) {
    const address = Math.ceil(Math.max(runBase, start, cursor) / align) * align;
    if (address < runEnd) return runEnd - address;
  }
  return 0;
}

describe("BumpBootAllocator property", () => {
  it("over messy maps it only hands out usable RAM outside reserved ranges and frame 0, exactly as the model says", () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const options =
          scenario.start === undefined
            ? { reserved: scenario.reserved }
            : { reserved: scenario.reserved, start: scenario.start };
        const boot = new BumpBootAllocator(scenario.entries, options);
        const start = scenario.start ?? MiB;
        const allowed = allowedPages(scenario);
        const runs = allowedRuns(scenario, allowed);
        let aboveCursor = start;
        let belowCursor = 0;
        const blocks: [number, number][] = [];

        for (const request of scenario.requests) {
          let size: number;
          let align: number;
          let address: number;
          if (request.kind === "alloc") {
            size = request.size;
            align = request.align ?? 8;
            address = boot.alloc(request.size, request.align);
          } else if (request.kind === "frames") {
            size = request.count * PAGE;
            align = PAGE;
            address = boot.allocFrames(request.count);
          } else {
            align = request.align;
            size = Math.max(
              1,
              spaceLeftInCurrentRun(runs, start, aboveCursor, align) + request.delta,
            );
            address = boot.alloc(size, align);
          }

          const above = firstFit(runs, start, Infinity, aboveCursor, size, align);
          const expected = above !== 0 ? above : firstFit(runs, 0, start, belowCursor, size, align);
          expect(address).toBe(expected);
          if (address === 0) continue;
          if (address >= start) aboveCursor = address + size;
          else belowCursor = address + size;

          // The safety claims, checked straight against the inputs rather than the model.
          const end = address + size;
          expect(address % align).toBe(0);
          expect(address).toBeGreaterThanOrEqual(PAGE);
          for (let at = address - (address % UNIT); at < end; at += UNIT) {
            expect(winningType(scenario.entries, at)).toBe("usable");
          }
          for (const r of scenario.reserved) {
            expect(r.length > 0 && address < r.base + r.length && r.base < end).toBe(false);
          }
          for (const [otherBase, otherEnd] of blocks) {
            expect(address < otherEnd && otherBase < end).toBe(false);
          }
          blocks.push([address, end]);
        }

        const merged: PhysRange[] = [];
        for (const [base, end] of [...blocks].sort((a, b) => a[0] - b[0])) {
          const last = merged[merged.length - 1];
          if (last !== undefined && last.base + last.length === base) last.length = end - last.base;
          else merged.push({ base, length: end - base, name: BOOT_ALLOCATOR_RANGE_NAME });
        }
        expect(boot.allocated()).toEqual(merged);
        expect(boot.cap()).toEqual(merged);
        expectAllocatorError(() => boot.alloc(1), "EINVAL", "capped");
      }),
      { numRuns: fuzzRuns() },
    );
  });
});
