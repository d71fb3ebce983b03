import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MemoryMapEntry } from "@allockit/core";
import {
  E820Type,
  detectMemoryMapFormat,
  dmesgTypeName,
  formatDmesgMemoryMap,
  formatSysfsMemoryMap,
  parseDmesgMemoryMap,
  parseMemoryMapText,
  parseSysfsMemoryMap,
} from "@allockit/x86-machine";
import { expectAllocatorError, fuzzRuns } from "./helpers.js";

const line = (range: string, type: string): string => `BIOS-e820: [mem ${range}] ${type}`;

describe("parseDmesgMemoryMap", () => {
  it("reads lines with and without the timestamp and leading spaces; ends are inclusive", () => {
    const text = [
      "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
      "   BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved",
      "BIOS-e820: [mem 0x0000000000100000-0x0000000000100000] usable",
    ].join("\n");
    expect(parseDmesgMemoryMap(text)).toEqual([
      { base: 0, length: 0x9fc00, type: "usable" },
      { base: 0x9fc00, length: 0x400, type: "reserved" },
      { base: 0x100000, length: 1, type: "usable" },
    ]);
  });

  it("maps every type word Linux prints", () => {
    const cases: [string, Partial<MemoryMapEntry>][] = [
      ["usable", { type: "usable" }],
      ["reserved", { type: "reserved" }],
      ["ACPI data", { type: "acpi-reclaimable" }],
      ["ACPI NVS", { type: "acpi-nvs" }],
      ["unusable", { type: "bad" }],
      ["type 1", { type: "usable" }],
      ["type 2", { type: "reserved" }],
      ["type 6", { type: "unknown", raw: 6 }],
      ["type 20", { type: "unknown", raw: 20 }],
      ["persistent (type 12)", { type: "unknown", raw: 12 }],
      ["persistent (type 7)", { type: "unknown", raw: 7 }],
      ["soft reserved", { type: "unknown", raw: 0xefffffff }],
      // Wording of newer kernels.
      ["kernel usable RAM", { type: "usable" }],
      ["System RAM", { type: "usable" }],
      ["device reserved", { type: "reserved" }],
      ["persistent RAM (type 12)", { type: "unknown", raw: 12 }],
    ];
    for (const [word, expected] of cases) {
      const [entry] = parseDmesgMemoryMap(line("0x1000-0x1fff", word));
      expect(entry, word).toEqual({ base: 0x1000, length: 0x1000, ...expected });
    }
  });

  it("skips a size printed before the type and [gap] lines (newer kernels)", () => {
    const text = [
      "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff]  639 KB kernel usable RAM",
      "BIOS-e820: [gap 0x00000000000a0000-0x00000000000effff]",
      "BIOS-e820: [mem 0x0000000000100000-0x000000007ffdbfff]    1.9 GB device reserved",
    ].join("\n");
    expect(parseDmesgMemoryMap(text)).toEqual([
      { base: 0, length: 0x9fc00, type: "usable" },
      { base: 0x100000, length: 0x7fedc000, type: "reserved" },
    ]);
  });

  it("reads the old exclusive-end form", () => {
    const text = [
      " BIOS-e820: 0000000000000000 - 000000000009fc00 (usable)",
      " BIOS-e820: 00000000000f0000 - 0000000000100000 (reserved)",
      " BIOS-e820: 0000000000100000 - 0000000007ff0000 (usable)",
      " BIOS-e820: 0000000007ff0000 - 0000000007ff3000 (ACPI NVS)",
      " BIOS-e820: 0000000007ff3000 - 0000000008000000 (ACPI data)",
      " BIOS-e820: 00000000fec00000 - 00000000fec01000 type 9",
    ].join("\n");
    expect(parseDmesgMemoryMap(text)).toEqual([
      { base: 0, length: 0x9fc00, type: "usable" },
      { base: 0xf0000, length: 0x10000, type: "reserved" },
      { base: 0x100000, length: 0x7ef0000, type: "usable" },
      { base: 0x7ff0000, length: 0x3000, type: "acpi-nvs" },
      { base: 0x7ff3000, length: 0xd000, type: "acpi-reclaimable" },
      { base: 0xfec00000, length: 0x1000, type: "unknown", raw: 9 },
    ]);
  });

  it("skips lines that are not map entries", () => {
    const text = [
      "[    0.000000] Linux version 6.1.0",
      "[    0.000000] BIOS-provided physical RAM map:",
      "[    0.000000] e820: update [mem 0x00000000-0x00000fff] usable ==> reserved",
      "[    0.000000] DMI: QEMU Standard PC (i440FX + PIIX, 1996)",
      "",
      line("0x0000000000001000-0x0000000000001fff", "usable"),
    ].join("\r\n");
    expect(parseDmesgMemoryMap(text)).toEqual([{ base: 0x1000, length: 0x1000, type: "usable" }]);
    expect(parseDmesgMemoryMap("")).toEqual([]);
  });

  it("raises EINVAL with the line number and text for a malformed entry line", () => {
    const bad = (text: string, mentions: string): void =>
      expectAllocatorError(() => parseDmesgMemoryMap(`DMI: x\n${text}`), "EINVAL", mentions);
    bad(line("0x2000-0x1fff", "usable"), "line 2: end 0x1fff is below base 0x2000");
    bad(line("0x1000-0x1fff", "weird"), 'line 2: unknown memory type "weird"');
    bad(line("0x1000-0x1fff", ""), "line 2: the entry has no type");
    bad(line("0x1000-0xzz", "usable"), "line 2: end 0xzz is not hex");
    bad(
      "BIOS-e820: something else",
      'line 2: not a BIOS-e820 map entry: "BIOS-e820: something else"',
    );
    bad(line("0x0-0xffffffffffffffff", "reserved"), "line 2: end 0xffffffffffffffff is too large");
    bad(line("0x0-0x10000000000000", "reserved"), "past the physical address limit 2^52");
    bad(line("0x0-0xfff", "type 4294967296"), "line 2: type 4294967296 does not fit in 32 bits");
  });

  it("survives format → parse for random maps", () => {
    fc.assert(
      fc.property(fc.array(arbitraryEntry(), { maxLength: 20 }), (map) => {
        expect(parseDmesgMemoryMap(formatDmesgMemoryMap(map))).toEqual(map);
      }),
      { numRuns: fuzzRuns() },
    );
  });

  it("formats as Linux prints it", () => {
    expect(formatDmesgMemoryMap([{ base: 0, length: 0x9fc00, type: "usable" }])).toBe(
      "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n",
    );
    expect(dmesgTypeName(E820Type.PRAM)).toBe("persistent (type 12)");
    expect(dmesgTypeName(9)).toBe("type 9");
    expectAllocatorError(
      () => formatDmesgMemoryMap([{ base: 0x1000, length: 0, type: "usable" }]),
      "EINVAL",
      "zero-length entry at 0x1000",
    );
  });
});

describe("parseSysfsMemoryMap", () => {
  it("reads start end type lines with inclusive ends and every Linux type string", () => {
    const text = [
      "# /sys/firmware/memmap",
      "0x0 0x9fbff System RAM",
      "0x9fc00 0xfffff Reserved",
      "0x7ff0000 0x7ff2fff ACPI Tables",
      "0x7ff3000 0x7ff3fff ACPI Non-volatile Storage",
      "0x8000000 0x8000fff Unusable memory",
      "0x100000000 0x13fffffff Persistent Memory",
      "0x140000000 0x17fffffff Persistent Memory (legacy)",
      "0x180000000 0x180000fff Soft Reserved",
      "  0x180001000   0x180001fff   Unknown E820 type  ",
    ].join("\n");
    expect(parseSysfsMemoryMap(text)).toEqual([
      { base: 0, length: 0x9fc00, type: "usable" },
      { base: 0x9fc00, length: 0x60400, type: "reserved" },
      { base: 0x7ff0000, length: 0x3000, type: "acpi-reclaimable" },
      { base: 0x7ff3000, length: 0x1000, type: "acpi-nvs" },
      { base: 0x8000000, length: 0x1000, type: "bad" },
      { base: 0x100000000, length: 0x40000000, type: "unknown", raw: 7 },
      { base: 0x140000000, length: 0x40000000, type: "unknown", raw: 12 },
      { base: 0x180000000, length: 0x1000, type: "unknown", raw: 0xefffffff },
      { base: 0x180001000, length: 0x1000, type: "unknown" },
    ]);
  });

  it("raises EINVAL with the line number for a malformed entry line", () => {
    expectAllocatorError(
      () => parseSysfsMemoryMap("0x0 0x9fbff System RAM\n0x9fc00 Reserved"),
      "EINVAL",
      'line 2: not a start end type line: "0x9fc00 Reserved"',
    );
    expectAllocatorError(
      () => parseSysfsMemoryMap("0x0 0xfff Main Memory"),
      "EINVAL",
      'line 1: unknown memory type "Main Memory"',
    );
    expectAllocatorError(
      () => parseSysfsMemoryMap("\n\n0x2000 0x1000 Reserved"),
      "EINVAL",
      "line 3: end 0x1000 is below base 0x2000",
    );
  });

  it("survives format → parse for maps of the types sysfs names", () => {
    fc.assert(
      fc.property(fc.array(arbitraryEntry([7, 12, 0xefffffff]), { maxLength: 20 }), (map) => {
        expect(parseSysfsMemoryMap(formatSysfsMemoryMap(map))).toEqual(map);
      }),
      { numRuns: fuzzRuns() },
    );
  });
});

describe("parseMemoryMapText", () => {
  it("detects the format", () => {
    expect(detectMemoryMapFormat(line("0x0-0xfff", "usable"))).toBe("dmesg");
    expect(detectMemoryMapFormat("0x0 0xfff System RAM")).toBe("sysfs");
    expect(detectMemoryMapFormat("hello")).toBeUndefined();
    expect(parseMemoryMapText("0x0 0xfff System RAM")).toEqual([
      { base: 0, length: 0x1000, type: "usable" },
    ]);
  });

  it("raises EINVAL for text with no map in it", () => {
    expectAllocatorError(
      () => parseMemoryMapText("DMI: nothing here"),
      "EINVAL",
      "no memory map entries",
    );
  });
});

/** Entries with inclusive ends that fit below 2^52; unknown types take a raw from `unknownRaws`. */
function arbitraryEntry(unknownRaws?: number[]): fc.Arbitrary<MemoryMapEntry> {
  const unknownRaw =
    unknownRaws === undefined
      ? fc.oneof(fc.constant(0), fc.integer({ min: 6, max: 0xffffffff }))
      : fc.constantFrom(...unknownRaws);
  return fc
    .record({
      base: fc.integer({ min: 0, max: 2 ** 51 }),
      length: fc.integer({ min: 1, max: 2 ** 51 }),
      type: fc.constantFrom("usable", "reserved", "acpi-reclaimable", "acpi-nvs", "bad", "unknown"),
      raw: unknownRaw,
    })
    .map(({ base, length, type, raw }): MemoryMapEntry =>
      type === "unknown" ? { base, length, type, raw } : { base, length, type },
    );
}
