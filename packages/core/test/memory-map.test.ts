import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type MemoryMapEntry,
  type MemoryType,
  type PhysRange,
  e820TypeNumber,
  intersectRanges,
  memoryTypeFromE820,
  mergeRanges,
  normalizeMemoryMap,
  subtractRanges,
  totalBytes,
  usableRanges,
} from "@allockit/core";
import { entry, expectAllocatorError, fuzzRuns } from "./helpers.js";

const PAGE = 4096;
const GiB = 2 ** 30;

/** The restrictiveness order, written out here so the tests do not trust the code's copy. */
const ORDER: MemoryType[] = [
  "usable",
  "acpi-reclaimable",
  "acpi-nvs",
  "reserved",
  "unknown",
  "bad",
];

describe("E820 type numbers", () => {
  it("maps 1-5 to the known types and everything else to unknown", () => {
    expect([1, 2, 3, 4, 5].map(memoryTypeFromE820)).toEqual([
      "usable",
      "reserved",
      "acpi-reclaimable",
      "acpi-nvs",
      "bad",
    ]);
    for (const raw of [0, 6, 7, 12, 0xf0000001, 2 ** 32 - 1]) {
      expect(memoryTypeFromE820(raw)).toBe("unknown");
    }
  });

  it("rejects numbers that are not 32-bit type fields", () => {
    for (const raw of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expectAllocatorError(() => memoryTypeFromE820(raw), "EINVAL", String(raw));
    }
  });

  it("gives the type number back, raw for unknown entries", () => {
    expect(e820TypeNumber(entry(0, PAGE, "usable"))).toBe(1);
    expect(e820TypeNumber(entry(0, PAGE, "reserved"))).toBe(2);
    expect(e820TypeNumber(entry(0, PAGE, "acpi-reclaimable"))).toBe(3);
    expect(e820TypeNumber(entry(0, PAGE, "acpi-nvs"))).toBe(4);
    expect(e820TypeNumber(entry(0, PAGE, "bad"))).toBe(5);
    expect(e820TypeNumber(entry(0, PAGE, "unknown", 12))).toBe(12);
    // A known type's number comes from the type, whatever raw says.
    expect(e820TypeNumber(entry(0, PAGE, "usable", 9))).toBe(1);
    expectAllocatorError(
      () => e820TypeNumber(entry(0x5000, 0x6000, "unknown")),
      "EINVAL",
      "0x5000",
    );
  });
});

describe("normalizeMemoryMap", () => {
  it("sorts entries by base and says so", () => {
    const { map, changes } = normalizeMemoryMap([
      entry(0x100000, 0x200000, "usable"),
      entry(0x1000, 0x9f000, "usable"),
      entry(0xf0000, 0x100000, "reserved"),
    ]);
    expect(map).toEqual([
      entry(0x1000, 0x9f000, "usable"),
      entry(0xf0000, 0x100000, "reserved"),
      entry(0x100000, 0x200000, "usable"),
    ]);
    expect(changes).toEqual(["sorted 3 entries by base address"]);
  });

  it("leaves a clean map alone and reports nothing", () => {
    const clean = [
      entry(0, 0x9f000, "usable"),
      entry(0x9fc00, 0xa0000, "reserved"),
      entry(0x100000, 0x7fe0000, "usable"),
      entry(0xfffc0000, 0x100000000, "reserved"),
    ];
    expect(normalizeMemoryMap(clean)).toEqual({ map: clean, changes: [] });
  });

  describe("overlaps: the more restrictive type wins, whatever the order", () => {
    const pairs = ORDER.flatMap((a) => ORDER.filter((b) => b !== a).map((b) => [a, b] as const));
    it.each(pairs)("%s below, %s above", (lower, upper) => {
      const rawOf = (type: MemoryType) => (type === "unknown" ? 7 : undefined);
      const first = entry(0x1000, 0x5000, lower, rawOf(lower));
      const second = entry(0x3000, 0x8000, upper, rawOf(upper));
      const lowerWins = ORDER.indexOf(lower) > ORDER.indexOf(upper);
      const expected = lowerWins
        ? [entry(0x1000, 0x5000, lower, rawOf(lower)), entry(0x5000, 0x8000, upper, rawOf(upper))]
        : [entry(0x1000, 0x3000, lower, rawOf(lower)), entry(0x3000, 0x8000, upper, rawOf(upper))];
      for (const input of [
        [first, second],
        [second, first],
      ]) {
        const { map, changes } = normalizeMemoryMap(input);
        expect(map).toEqual(expected);
        const winner = lowerWins ? lower : upper;
        const overlap = changes.find((change) => change.includes("overlaps"));
        expect(overlap).toBeDefined();
        expect(overlap).toContain("0x1000..0x5000");
        expect(overlap).toContain("0x3000..0x8000");
        expect(overlap).toMatch(
          new RegExp(`: ${winner === "unknown" ? "unknown type 7" : winner} wins$`),
        );
      }
    });
  });

  it("reports an overlap in readable words", () => {
    const { changes } = normalizeMemoryMap([
      entry(0x100000, 0x7fe0000, "usable"),
      entry(0x7000000, 0x8000000, "reserved"),
    ]);
    expect(changes).toEqual([
      "usable 0x100000..0x7fe0000 overlaps reserved 0x7000000..0x8000000: reserved wins",
    ]);
  });

  it("cuts a hole where a restrictive entry is nested inside a usable one", () => {
    const { map } = normalizeMemoryMap([
      entry(0, 0x100000, "usable"),
      entry(0x9f000, 0xa0000, "acpi-nvs"),
    ]);
    expect(map).toEqual([
      entry(0, 0x9f000, "usable"),
      entry(0x9f000, 0xa0000, "acpi-nvs"),
      entry(0xa0000, 0x100000, "usable"),
    ]);
  });

  it("swallows a usable entry nested inside a reserved one", () => {
    const { map, changes } = normalizeMemoryMap([
      entry(0, 0x10000, "reserved"),
      entry(0x2000, 0x3000, "usable"),
    ]);
    expect(map).toEqual([entry(0, 0x10000, "reserved")]);
    expect(changes).toEqual([
      "reserved 0x0..0x10000 overlaps usable 0x2000..0x3000: reserved wins",
    ]);
  });

  it("merges overlapping and duplicate entries of the same type", () => {
    const { map, changes } = normalizeMemoryMap([
      entry(0x1000, 0x4000, "usable"),
      entry(0x1000, 0x4000, "usable"),
      entry(0x3000, 0x9000, "usable"),
    ]);
    expect(map).toEqual([entry(0x1000, 0x9000, "usable")]);
    expect(changes.filter((change) => change.endsWith(": merged"))).toHaveLength(3);
  });

  it("drops zero-length entries", () => {
    const { map, changes } = normalizeMemoryMap([
      entry(0x1000, 0x9f000, "usable"),
      entry(0x9fc00, 0x9fc00, "reserved"),
      entry(0x100000, 0x100000, "usable"),
    ]);
    expect(map).toEqual([entry(0x1000, 0x9f000, "usable")]);
    expect(changes).toEqual([
      "dropped zero-length reserved entry at 0x9fc00",
      "dropped zero-length usable entry at 0x100000",
    ]);
  });

  it("shrinks unaligned usable entries inward to whole pages and drops those left empty", () => {
    const { map, changes } = normalizeMemoryMap([
      entry(0x500, 0x9fc00, "usable"),
      entry(0x9fc00, 0xa0000, "reserved"),
      entry(0x100100, 0x100f00, "usable"),
    ]);
    // Non-usable entries keep their exact bounds: they describe, they are not handed out.
    expect(map).toEqual([entry(0x1000, 0x9f000, "usable"), entry(0x9fc00, 0xa0000, "reserved")]);
    expect(changes).toEqual([
      "usable 0x500..0x9fc00 aligned inward to whole pages 0x1000..0x9f000",
      "dropped usable 0x100100..0x100f00: no whole page inside it",
    ]);
  });

  it("merges before aligning, so two half pages make a whole one", () => {
    const { map } = normalizeMemoryMap([
      entry(0x1800, 0x2000, "usable"),
      entry(0x1000, 0x1800, "usable"),
    ]);
    expect(map).toEqual([entry(0x1000, 0x2000, "usable")]);
  });

  it("merges adjacent entries of the same type only", () => {
    const { map, changes } = normalizeMemoryMap([
      entry(0x1000, 0x3000, "usable"),
      entry(0x3000, 0x5000, "usable"),
      entry(0x5000, 0x6000, "reserved"),
      entry(0x6000, 0x7000, "acpi-nvs"),
    ]);
    expect(map).toEqual([
      entry(0x1000, 0x5000, "usable"),
      entry(0x5000, 0x6000, "reserved"),
      entry(0x6000, 0x7000, "acpi-nvs"),
    ]);
    expect(changes).toEqual(["merged adjacent usable entries 0x1000..0x3000 and 0x3000..0x5000"]);
  });

  it("does not report a merge that a restrictive entry over the boundary prevented", () => {
    const { map, changes } = normalizeMemoryMap([
      entry(0x1000, 0x3000, "usable"),
      entry(0x3000, 0x5000, "usable"),
      entry(0x2000, 0x4000, "bad"),
    ]);
    expect(map).toEqual([
      entry(0x1000, 0x2000, "usable"),
      entry(0x2000, 0x4000, "bad"),
      entry(0x4000, 0x5000, "usable"),
    ]);
    expect(changes.some((change) => change.startsWith("merged"))).toBe(false);
  });

  it("keeps raw on unknown entries and merges them only with the same raw", () => {
    const { map } = normalizeMemoryMap([
      entry(0x1000, 0x2000, "unknown", 7),
      entry(0x2000, 0x3000, "unknown", 7),
      entry(0x3000, 0x4000, "unknown", 12),
    ]);
    expect(map).toEqual([
      entry(0x1000, 0x3000, "unknown", 7),
      entry(0x3000, 0x4000, "unknown", 12),
    ]);
  });

  it("resolves two overlapping unknown types by the larger raw number", () => {
    const expected = [
      entry(0x1000, 0x3000, "unknown", 7),
      entry(0x3000, 0x6000, "unknown", 20),
      entry(0x6000, 0x8000, "unknown", 7),
    ];
    const nested = [entry(0x1000, 0x8000, "unknown", 7), entry(0x3000, 0x6000, "unknown", 20)];
    expect(normalizeMemoryMap(nested).map).toEqual(expected);
    expect(normalizeMemoryMap([...nested].reverse()).map).toEqual(expected);
    expect(normalizeMemoryMap(nested).changes).toEqual([
      "unknown type 7 0x1000..0x8000 overlaps unknown type 20 0x3000..0x6000: unknown type 20 wins",
    ]);
  });

  it("drops raw from known types, where the type already says it", () => {
    expect(normalizeMemoryMap([entry(0x1000, 0x2000, "reserved", 2)]).map).toEqual([
      entry(0x1000, 0x2000, "reserved"),
    ]);
  });

  it("does not modify its input", () => {
    const input = [
      entry(0x100000, 0x100000, "usable"),
      entry(0x500, 0x9fc00, "usable"),
      entry(0x9f000, 0xa0000, "reserved"),
      entry(0x1000, 0x2000, "unknown", 9),
    ];
    const before = structuredClone(input);
    Object.freeze(input);
    input.forEach((item) => Object.freeze(item));
    normalizeMemoryMap(input);
    expect(input).toEqual(before);
  });

  it("cleans a messy firmware map and reports every step", () => {
    const { map, changes } = normalizeMemoryMap([
      entry(0x100000, 0x7fe0000, "usable"),
      entry(0x0, 0x9fc00, "usable"),
      entry(0x9fc00, 0xa0000, "reserved"),
      entry(0xf0000, 0x100000, "reserved"),
      entry(0x7000000, 0x7000000, "acpi-nvs"),
      entry(0x7fe0000, 0x8000000, "reserved"),
      entry(0x7f00000, 0x7fe0000, "acpi-reclaimable"),
      entry(0x100000000, 0x140000800, "usable"),
    ]);
    expect(map).toEqual([
      entry(0, 0x9f000, "usable"),
      entry(0x9fc00, 0xa0000, "reserved"),
      entry(0xf0000, 0x100000, "reserved"),
      entry(0x100000, 0x7f00000, "usable"),
      entry(0x7f00000, 0x7fe0000, "acpi-reclaimable"),
      entry(0x7fe0000, 0x8000000, "reserved"),
      entry(0x100000000, 0x140000000, "usable"),
    ]);
    expect(changes).toEqual([
      "dropped zero-length acpi-nvs entry at 0x7000000",
      "sorted 7 entries by base address",
      "usable 0x100000..0x7fe0000 overlaps acpi-reclaimable 0x7f00000..0x7fe0000: acpi-reclaimable wins",
      "usable 0x0..0x9fc00 aligned inward to whole pages 0x0..0x9f000",
      "usable 0x100000000..0x140000800 aligned inward to whole pages 0x100000000..0x140000000",
    ]);
  });

  describe("rejects malformed entries with EINVAL naming the entry and the value", () => {
    const cases: [string, unknown, string][] = [
      ["negative base", { base: -4096, length: 4096, type: "usable" }, "-4096"],
      ["fractional base", { base: 0.5, length: 4096, type: "usable" }, "0.5"],
      ["NaN length", { base: 0, length: Number.NaN, type: "usable" }, "NaN"],
      ["negative length", { base: 0, length: -1, type: "usable" }, "-1"],
      ["base past 2^53", { base: 2 ** 53, length: 1, type: "usable" }, String(2 ** 53)],
      ["end past 2^52", { base: 2 ** 52 - 4096, length: 8192, type: "usable" }, "2^52"],
      ["unknown type name", { base: 0, length: 4096, type: "ram" }, '"ram"'],
      ["bad raw", { base: 0, length: 4096, type: "unknown", raw: -3 }, "-3"],
      ["not an object", null, "null"],
    ];
    it.each(cases)("%s", (_label, bad, mentions) => {
      const map = [entry(0, PAGE, "usable"), bad as MemoryMapEntry];
      expectAllocatorError(() => normalizeMemoryMap(map), "EINVAL", mentions);
      expectAllocatorError(() => normalizeMemoryMap(map), "EINVAL", "entry 1");
    });

    it("accepts an entry ending exactly at 2^52", () => {
      expect(normalizeMemoryMap([entry(2 ** 52 - PAGE, 2 ** 52, "usable")]).map).toEqual([
        entry(2 ** 52 - PAGE, 2 ** 52, "usable"),
      ]);
    });
  });
});

describe("range helpers", () => {
  const range = (base: number, end: number, name?: string): PhysRange =>
    name === undefined ? { base, length: end - base } : { base, length: end - base, name };

  it("mergeRanges sorts, joins overlapping and touching ranges, drops empty ones", () => {
    expect(
      mergeRanges([
        range(0x5000, 0x6000),
        range(0x1000, 0x3000),
        range(0x2000, 0x4000),
        range(0x4000, 0x4800),
        range(0x9000, 0x9000),
      ]),
    ).toEqual([range(0x1000, 0x4800), range(0x5000, 0x6000)]);
  });

  it("mergeRanges keeps a name only when every merged part shares it", () => {
    expect(
      mergeRanges([
        range(0x1000, 0x2000, "kernel"),
        range(0x2000, 0x3000, "kernel"),
        range(0x5000, 0x6000, "a"),
        range(0x6000, 0x7000, "b"),
      ]),
    ).toEqual([range(0x1000, 0x3000, "kernel"), range(0x5000, 0x7000)]);
  });

  it("subtractRanges cuts holes out, keeping names", () => {
    expect(
      subtractRanges(
        [range(0x1000, 0x10000, "ram"), range(0x20000, 0x30000, "high")],
        [range(0x3000, 0x4000), range(0x8000, 0x22000), range(0x2f000, 0x40000)],
      ),
    ).toEqual([
      range(0x1000, 0x3000, "ram"),
      range(0x4000, 0x8000, "ram"),
      range(0x22000, 0x2f000, "high"),
    ]);
    expect(subtractRanges([range(0x1000, 0x2000)], [range(0, 0x10000)])).toEqual([]);
    expect(subtractRanges([range(0x1000, 0x2000)], [])).toEqual([range(0x1000, 0x2000)]);
  });

  it("intersectRanges keeps what both cover", () => {
    expect(
      intersectRanges(
        [range(0x1000, 0x5000, "a"), range(0x8000, 0x9000)],
        [range(0x0, 0x2000), range(0x4000, 0x8800)],
      ),
    ).toEqual([range(0x1000, 0x2000, "a"), range(0x4000, 0x5000, "a"), range(0x8000, 0x8800)]);
    expect(intersectRanges([range(0x1000, 0x2000)], [range(0x2000, 0x3000)])).toEqual([]);
  });

  it("works above 4 GiB without 32-bit truncation", () => {
    const high = 2 ** 40;
    expect(
      subtractRanges([range(high, high + 4 * GiB)], [range(high + GiB, high + 2 * GiB)]),
    ).toEqual([range(high, high + GiB), range(high + 2 * GiB, high + 4 * GiB)]);
  });

  it("rejects malformed ranges with EINVAL naming the value", () => {
    expectAllocatorError(() => mergeRanges([range(0, 1), { base: -1, length: 2 }]), "EINVAL", "-1");
    expectAllocatorError(() => subtractRanges([], [{ base: 1.5, length: 2 }]), "EINVAL", "hole 0");
    expectAllocatorError(
      () => intersectRanges([{ base: 1, length: 2 ** 52 }], []),
      "EINVAL",
      "2^52",
    );
  });

  describe("usableRanges", () => {
    const map = [
      entry(0, 0x9fc00, "usable"),
      entry(0x9fc00, 0xa0000, "reserved"),
      entry(0x100000, 0x8000000, "usable"),
      entry(0x7000000, 0x7010000, "acpi-nvs"),
    ];

    it("never includes frame 0", () => {
      expect(usableRanges(map, [])[0]).toEqual(range(0x1000, 0x9f000));
      expect(usableRanges([entry(0, PAGE, "usable")], [])).toEqual([]);
    });

    it("removes reserved ranges rounded outward to whole pages", () => {
      expect(
        usableRanges(map, [range(0x100800, 0x200001, "kernel"), range(0x5000, 0x5000, "empty")]),
      ).toEqual([range(0x1000, 0x9f000), range(0x201000, 0x7000000), range(0x7010000, 0x8000000)]);
    });

    it("rejects a malformed reserved range", () => {
      expectAllocatorError(
        () => usableRanges(map, [{ base: 0x1000, length: -5, name: "initrd" }]),
        "EINVAL",
        '"initrd"',
      );
    });
  });

  it("totalBytes counts the normalised map, so overlaps are not counted twice", () => {
    const map = [
      entry(0x1000, 0x9000, "usable"),
      entry(0x5000, 0x10000, "usable"),
      entry(0x8000, 0x9000, "reserved"),
      entry(0x100000000, 0x180000000, "usable"),
    ];
    expect(totalBytes(map, "usable")).toBe(0x7000 + 0x7000 + 2 * GiB);
    expect(totalBytes(map)).toBe(totalBytes(map, "usable"));
    expect(totalBytes(map, "reserved")).toBe(0x1000);
    expect(totalBytes(map, "bad")).toBe(0);
    expectAllocatorError(() => totalBytes(map, "ram" as MemoryType), "EINVAL", '"ram"');
  });
});

// ---- property: normalisation against a brute-force model ----

/** The model works in 1 KiB units, four to a page, so unaligned usable edges are exercised. */
const UNIT = 1024;
const UNITS_PER_PAGE = PAGE / UNIT;
const SPACE_UNITS = 96;

interface UnitEntry {
  baseUnit: number;
  lengthUnits: number;
  type: MemoryType;
  raw: number | undefined;
}

const typeArbitrary = fc.oneof(
  { arbitrary: fc.constant<MemoryType>("usable"), weight: 4 },
  { arbitrary: fc.constantFrom<MemoryType>(...ORDER), weight: 3 },
);

const unitEntryArbitrary: fc.Arbitrary<UnitEntry> = fc
  .record({
    baseUnit: fc.integer({ min: 0, max: SPACE_UNITS - 1 }),
    lengthUnits: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: SPACE_UNITS })),
    type: typeArbitrary,
    raw: fc.option(fc.constantFrom(0, 6, 7, 12), { nil: undefined }),
  })
  .map((e) => ({ ...e, lengthUnits: Math.min(e.lengthUnits, SPACE_UNITS - e.baseUnit) }));

/** Where the little address space sits: low memory, above 4 GiB, or just under 2^52. */
const offsetArbitrary = fc.constantFrom(0, 2 ** 32, 2 ** 52 - SPACE_UNITS * UNIT);

function keyOf(type: MemoryType, raw: number | undefined): string {
  return type === "unknown" ? `unknown:${raw ?? "none"}` : type;
}

/** For each unit: the key of the most restrictive entry covering it, or undefined. */
function modelUnitKeys(entries: readonly UnitEntry[]): (string | undefined)[] {
  const keys: (string | undefined)[] = [];
  for (let unit = 0; unit < SPACE_UNITS; unit++) {
    let best: UnitEntry | undefined;
    for (const e of entries) {
      if (unit < e.baseUnit || unit >= e.baseUnit + e.lengthUnits) continue;
      const rank = ORDER.indexOf(e.type);
      const bestRank = best === undefined ? -1 : ORDER.indexOf(best.type);
      const rawBeats =
        e.type === "unknown" && best?.type === "unknown" && (e.raw ?? -1) > (best.raw ?? -1);
      if (rank > bestRank || (rank === bestRank && rawBeats)) best = e;
    }
    keys.push(
      best === undefined
        ? undefined
        : keyOf(best.type, best.type === "unknown" ? best.raw : undefined),
    );
  }
  return keys;
}

/** What normalisation must produce per unit: usable survives only on wholly usable pages. */
function expectedUnitKeys(modelKeys: readonly (string | undefined)[]): (string | undefined)[] {
  return modelKeys.map((key, unit) => {
    if (key !== "usable") return key;
    const first = unit - (unit % UNITS_PER_PAGE);
    const wholePage = modelKeys.slice(first, first + UNITS_PER_PAGE).every((k) => k === "usable");
    return wholePage ? "usable" : undefined;
  });
}

function toMap(entries: readonly UnitEntry[], offset: number): MemoryMapEntry[] {
  return entries.map((e) => {
    const base = offset + e.baseUnit * UNIT;
    return entry(base, base + e.lengthUnits * UNIT, e.type, e.raw);
  });
}

describe("normalizeMemoryMap property", () => {
  it("gives every byte the most restrictive type that covered it; the result is sorted, disjoint, merged and page-aligned", () => {
    fc.assert(
      fc.property(
        fc.array(unitEntryArbitrary, { maxLength: 12 }),
        offsetArbitrary,
        (entries, offset) => {
          const input = toMap(entries, offset);
          const before = structuredClone(input);
          const { map, changes } = normalizeMemoryMap(input);
          expect(input).toEqual(before);

          for (let i = 0; i < map.length; i++) {
            const e = map[i]!;
            expect(e.length).toBeGreaterThan(0);
            if (e.type === "usable") {
              expect(e.base % PAGE).toBe(0);
              expect(e.length % PAGE).toBe(0);
            }
            if (e.type !== "unknown") expect(e.raw).toBeUndefined();
            const next = map[i + 1];
            if (next !== undefined) {
              expect(e.base + e.length).toBeLessThanOrEqual(next.base);
              const touching = e.base + e.length === next.base;
              expect(touching && keyOf(e.type, e.raw) === keyOf(next.type, next.raw)).toBe(false);
            }
            expect(e.base).toBeGreaterThanOrEqual(offset);
            expect(e.base + e.length).toBeLessThanOrEqual(offset + SPACE_UNITS * UNIT);
            expect((e.base - offset) % UNIT).toBe(0);
            expect(e.length % UNIT).toBe(0);
          }

          const actual: (string | undefined)[] = new Array<string | undefined>(SPACE_UNITS).fill(
            undefined,
          );
          for (const e of map) {
            for (
              let unit = (e.base - offset) / UNIT;
              unit < (e.base + e.length - offset) / UNIT;
              unit++
            ) {
              actual[unit] = keyOf(e.type, e.raw);
            }
          }
          expect(actual).toEqual(expectedUnitKeys(modelUnitKeys(entries)));

          // Nothing reported exactly when nothing needed cleaning.
          const stripped = input.map((e) =>
            e.type === "unknown" ? e : entry(e.base, e.base + e.length, e.type),
          );
          expect(changes.length === 0).toBe(JSON.stringify(map) === JSON.stringify(stripped));

          // A clean map stays as it is.
          expect(normalizeMemoryMap(map)).toEqual({ map, changes: [] });
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  it("usableRanges is exactly the wholly usable pages outside reserved ranges and frame 0", () => {
    const reservedArbitrary = fc.array(
      fc.record({
        base: fc.integer({ min: 0, max: SPACE_UNITS * UNIT - 1 }),
        length: fc.integer({ min: 0, max: 5 * PAGE }),
      }),
      { maxLength: 4 },
    );
    fc.assert(
      fc.property(
        fc.array(unitEntryArbitrary, { maxLength: 12 }),
        reservedArbitrary,
        fc.constantFrom(0, 2 ** 32),
        (entries, reservedOffsets, offset) => {
          const reserved = reservedOffsets.map((r) => ({
            base: offset + r.base,
            length: r.length,
          }));
          const ranges = usableRanges(toMap(entries, offset), reserved);
          const expectedKeys = expectedUnitKeys(modelUnitKeys(entries));
          const expectedPages: number[] = [];
          for (let page = 0; page < SPACE_UNITS / UNITS_PER_PAGE; page++) {
            const start = offset + page * PAGE;
            const usable = expectedKeys[page * UNITS_PER_PAGE] === "usable";
            const hitsReserved = reserved.some(
              (r) => r.length > 0 && r.base < start + PAGE && r.base + r.length > start,
            );
            if (usable && !hitsReserved && start !== 0) expectedPages.push(start);
          }
          const actualPages: number[] = [];
          for (let i = 0; i < ranges.length; i++) {
            const r = ranges[i]!;
            if (i > 0) expect(ranges[i - 1]!.base + ranges[i - 1]!.length).toBeLessThan(r.base);
            expect(r.base % PAGE).toBe(0);
            expect(r.length % PAGE).toBe(0);
            for (let at = r.base; at < r.base + r.length; at += PAGE) actualPages.push(at);
          }
          expect(actualPages).toEqual(expectedPages);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});

// ---- property: range algebra against sets of bytes ----

describe("range algebra property", () => {
  const SPACE = 80;
  const rangesArbitrary = fc.array(
    fc.record({
      base: fc.integer({ min: 0, max: SPACE - 1 }),
      length: fc.integer({ min: 0, max: 16 }),
    }),
    { maxLength: 8 },
  );

  function bytesOf(ranges: readonly PhysRange[]): boolean[] {
    const bytes = new Array<boolean>(SPACE + 16).fill(false);
    for (const r of ranges) for (let at = r.base; at < r.base + r.length; at++) bytes[at] = true;
    return bytes;
  }

  /** The one sorted, disjoint, non-touching list of ranges covering exactly `bytes`. */
  function canonical(bytes: readonly boolean[]): PhysRange[] {
    const result: PhysRange[] = [];
    bytes.forEach((set, at) => {
      if (!set) return;
      const last = result[result.length - 1];
      if (last !== undefined && last.base + last.length === at) last.length++;
      else result.push({ base: at, length: 1 });
    });
    return result;
  }

  const withoutNames = (ranges: readonly PhysRange[]) =>
    ranges.map(({ base, length }) => ({ base, length }));

  it("merge, subtract and intersect agree with set union, difference and intersection", () => {
    fc.assert(
      fc.property(rangesArbitrary, rangesArbitrary, (a, b) => {
        const inA = bytesOf(a);
        const inB = bytesOf(b);
        expect(withoutNames(mergeRanges(a))).toEqual(canonical(inA));
        expect(withoutNames(subtractRanges(a, b))).toEqual(
          canonical(inA.map((x, i) => x && !inB[i])),
        );
        expect(withoutNames(intersectRanges(a, b))).toEqual(
          canonical(inA.map((x, i) => x && inB[i]!)),
        );
      }),
      { numRuns: fuzzRuns() },
    );
  });
});
