import { GiB, KiB, MiB, hex } from "@allockit/core";
import type { MemoryMap, MemoryMapEntry, MemoryType } from "@allockit/core";
import { MEMORY_MAP_PRESETS, parseMemoryMapText } from "@allockit/x86-machine";
import fc from "fast-check";
import { REAL_MEMORY_MAPS } from "./real-maps.js";
import { subtractSpans } from "./spans.js";

/** A memory map the suite runs a PMM over. */
export interface PmmTestMap {
  /** "qemu-q35-64g" (preset), "real:cloud-vm-24g.dmesg" (real), "generated" or "messy-..." */
  readonly name: string;
  readonly kind: "preset" | "real" | "generated";
  /** The map as firmware would hand it over: possibly unsorted, overlapping, unaligned. */
  readonly map: MemoryMap;
}

/** Name of the model-run group whose maps are drawn at random. */
export const GENERATED_MAPS = "generated";

/** Every preset of x86-machine, by its preset name. */
export function presetTestMaps(): PmmTestMap[] {
  return Object.entries(MEMORY_MAP_PRESETS).map(([name, map]) => ({ name, kind: "preset", map }));
}

/** The real firmware maps shipped with the suite, parsed; named "real:<file>". */
export function realTestMaps(): PmmTestMap[] {
  return REAL_MEMORY_MAPS.map((real) => ({
    name: `real:${real.name}`,
    kind: "real",
    map: parseMemoryMapText(real.text),
  }));
}

/** Where generated maps get their irregularities; every field shrinks towards "tidy". */
export interface MessyMapShape {
  /** Conventional memory below 640 KiB: absent, 639 KiB + EBDA, 640 KiB, or with page 0 reserved. */
  readonly low: "639k" | "none" | "640k" | "page0-reserved";
  /** Usable RAM from 1 MiB, in MiB. */
  readonly mainMiB: number;
  /** Extra bytes at the end of main RAM, so its end is not page-aligned. */
  readonly mainTailBytes: number;
  /** Lists main RAM as two touching entries split this many MiB in (0 = one entry). */
  readonly splitAtMiB: number;
  /** Ranges missing from main RAM (E820 holes): offset in pages from 1 MiB, length in KiB. */
  readonly holes: readonly { readonly atPage: number; readonly lengthKiB: number }[];
  /** Non-usable entries laid over main RAM (ACPI tables, bad RAM), at unaligned addresses. */
  readonly islands: readonly {
    readonly atPage: number;
    readonly offset: number;
    readonly length: number;
    readonly type: MemoryType;
  }[];
  /** Usable fragments of under three pages at unaligned addresses in the 0xa0000 area. */
  readonly tiny: readonly { readonly offset: number; readonly length: number }[];
  /** Usable RAM above 4 GiB, in MiB (0 = none), and how many GiB above 4 GiB it starts. */
  readonly highMiB: number;
  readonly highGapGiB: number;
  /** A usable entry overlapping the BIOS area, so reserved must win the overlap. */
  readonly overlapBios: boolean;
  /** The first main RAM entry listed twice. */
  readonly duplicate: boolean;
  /** A zero-length usable entry. */
  readonly zeroLength: boolean;
  /** Seed of the order the entries are listed in (0 = sorted). */
  readonly order: number;
}

const LOW_TYPES: readonly MemoryType[] = [
  "reserved",
  "acpi-reclaimable",
  "acpi-nvs",
  "bad",
  "unknown",
];

/** Random messy shapes; `maxMainMiB` bounds main RAM (the exhaustion check wants small maps). */
export function messyMapShapeArbitrary(
  maxMainMiB = 96,
  maxHighMiB = 32,
): fc.Arbitrary<MessyMapShape> {
  // Holes and islands land in the first 32 MiB of main RAM, where small maps still have RAM.
  const pagesOfMain = 32 * 256;
  return fc.record({
    low: fc.constantFrom<MessyMapShape["low"]>("639k", "none", "640k", "page0-reserved"),
    mainMiB: fc.integer({ min: 8, max: maxMainMiB }),
    mainTailBytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4095 })),
    splitAtMiB: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 7 })),
    holes: fc.array(
      fc.record({
        atPage: fc.nat({ max: pagesOfMain }),
        lengthKiB: fc.integer({ min: 1, max: 2048 }),
      }),
      { maxLength: 3 },
    ),
    islands: fc.array(
      fc.record({
        atPage: fc.nat({ max: pagesOfMain }),
        offset: fc.nat({ max: 4095 }),
        length: fc.integer({ min: 1, max: 64 * KiB }),
        type: fc.constantFrom(...LOW_TYPES),
      }),
      { maxLength: 6 },
    ),
    tiny: fc.array(
      fc.record({ offset: fc.nat({ max: 0x3ffff }), length: fc.integer({ min: 1, max: 0x2fff }) }),
      { maxLength: 3 },
    ),
    highMiB: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: maxHighMiB })),
    highGapGiB: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60 })),
    overlapBios: fc.boolean(),
    duplicate: fc.boolean(),
    zeroLength: fc.boolean(),
    order: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0x7fffffff })),
  });
}

function entry(base: number, length: number, type: MemoryType): MemoryMapEntry {
  return type === "unknown" ? { base, length, type, raw: 0xf00d } : { base, length, type };
}

/** The firmware map a shape describes: deterministic, so a printed shape rebuilds it. */
export function buildMessyMap(shape: MessyMapShape): MemoryMapEntry[] {
  const entries: MemoryMapEntry[] = [];
  switch (shape.low) {
    case "639k":
      entries.push(entry(0, 0x9fc00, "usable"), entry(0x9fc00, 0x400, "reserved"));
      break;
    case "640k":
      entries.push(entry(0, 0xa0000, "usable"));
      break;
    case "page0-reserved":
      entries.push(entry(0, 0x1000, "reserved"), entry(0x1000, 0x9f000, "usable"));
      break;
    case "none":
      break;
  }
  entries.push(entry(0xf0000, 0x10000, "reserved"));
  for (const fragment of shape.tiny) {
    entries.push(entry(0xa0000 + fragment.offset, fragment.length, "usable"));
  }

  const mainEnd = MiB + shape.mainMiB * MiB + shape.mainTailBytes;
  const holes = shape.holes.map((h) => ({
    start: MiB + h.atPage * 4096,
    end: MiB + h.atPage * 4096 + h.lengthKiB * KiB,
  }));
  const split = shape.splitAtMiB > 0 && shape.splitAtMiB < shape.mainMiB;
  const mainPieces = split
    ? [
        { start: MiB, end: MiB + shape.splitAtMiB * MiB },
        { start: MiB + shape.splitAtMiB * MiB, end: mainEnd },
      ]
    : [{ start: MiB, end: mainEnd }];
  const mainEntries: MemoryMapEntry[] = [];
  for (const piece of mainPieces) {
    for (const part of subtractSpans([piece], holes)) {
      mainEntries.push(entry(part.start, part.end - part.start, "usable"));
    }
  }
  entries.push(...mainEntries);
  if (shape.duplicate && mainEntries.length > 0) entries.push({ ...mainEntries[0]! });
  for (const island of shape.islands) {
    entries.push(entry(MiB + island.atPage * 4096 + island.offset, island.length, island.type));
  }
  if (shape.overlapBios) entries.push(entry(0xe8000, 0x20000, "usable"));
  if (shape.zeroLength) entries.push(entry(0x50000000, 0, "usable"));
  entries.push(entry(0xfffc0000, 0x40000, "reserved"));
  if (shape.highMiB > 0) {
    entries.push(entry(4 * GiB + shape.highGapGiB * GiB, shape.highMiB * MiB, "usable"));
  }
  if (shape.order !== 0) shuffle(entries, shape.order);
  return entries;
}

/** Fisher-Yates with a xorshift32 stream: the same order for the same seed everywhere. */
function shuffle<T>(items: T[], seed: number): void {
  let state = seed | 0 || 1;
  for (let i = items.length - 1; i > 0; i--) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const j = (state >>> 0) % (i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

/** One line per entry, as the failure reports print a generated map. */
export function describeMap(map: MemoryMap): string {
  return `[${map
    .map(
      (e) => `${hex(e.base)}+${hex(e.length)} ${e.type}${e.raw === undefined ? "" : `(${e.raw})`}`,
    )
    .join(", ")}]`;
}

/** A generated map as a test map. */
export function messyTestMap(name: string, shape: MessyMapShape): PmmTestMap {
  return { name, kind: "generated", map: buildMessyMap(shape) };
}

/**
 * The fixed messy map of the table-driven checks: all three zones, EBDA, a hole, ACPI islands
 * (one unaligned) and tiny fragments in low memory, a split main entry, RAM above 4 GiB,
 * listed out of order.
 */
export const STANDARD_MESSY_SHAPE: MessyMapShape = {
  low: "639k",
  mainMiB: 40,
  mainTailBytes: 0x321,
  splitAtMiB: 5,
  holes: [{ atPage: 3000, lengthKiB: 256 }],
  islands: [
    { atPage: 1200, offset: 0x80, length: 0x2100, type: "acpi-reclaimable" },
    { atPage: 6000, offset: 0, length: 0x4000, type: "acpi-nvs" },
    { atPage: 9000, offset: 0x10, length: 0x10, type: "bad" },
  ],
  tiny: [
    { offset: 0x10010, length: 0x2800 },
    { offset: 0x20000, length: 0x1000 },
  ],
  highMiB: 16,
  highGapGiB: 0,
  overlapBios: true,
  duplicate: true,
  zeroLength: true,
  order: 0x5eed,
};

export function standardTestMap(): PmmTestMap {
  return messyTestMap("messy-standard", STANDARD_MESSY_SHAPE);
}

/** `count` generated maps drawn from `seed` (the same maps for the same seed). */
export function sampleMessyMaps(
  seed: number,
  count: number,
  prefix: string,
  maxMainMiB?: number,
  maxHighMiB?: number,
): PmmTestMap[] {
  const shapes = fc.sample(messyMapShapeArbitrary(maxMainMiB, maxHighMiB), {
    seed,
    numRuns: count,
  });
  return shapes.map((shape, i) => messyTestMap(`${prefix}-${i}`, shape));
}
