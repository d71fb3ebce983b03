import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { normalizeMemoryMap, totalBytes, usableRanges, type MemoryMap } from "@allockit/core";
import {
  detectMemoryMapFormat,
  parseDmesgMemoryMap,
  parseMemoryMapText,
  parseSysfsMemoryMap,
  summarizeMemoryMap,
} from "@allockit/x86-machine";
import { MEMMAPS_DIR, readMemmap } from "./helpers.js";

/** Raw usable bytes: the sum of the usable entries as listed. */
function rawUsable(map: MemoryMap): number {
  return map.filter((entry) => entry.type === "usable").reduce((sum, e) => sum + e.length, 0);
}

/**
 * Usable totals of every real map, summed by hand from the files (ends inclusive, so each
 * range is end - base + 1 bytes). Normalisation shrinks usable ranges inward to whole pages;
 * the only partial page in these files is the end of 0x0-0x9fbff, which becomes 0x0-0x9efff:
 * 0x9fc00 = 654336 bytes raw, 0x9f000 = 651264 bytes (159 pages) normalised, 3072 bytes less.
 */
const EXPECTED: Record<string, { format: string; raw: number; normalized: number }> = {
  // 0x0-0x9fbff           0x9fc00                           =     654,336
  // 0x100000-0x7fdffff    0x7fe0000 - 0x100000 = 0x7ee0000  = 133,038,080 (128 MiB - 1 MiB - 128 KiB)
  // raw 654,336 + 133,038,080 = 133,692,416; normalised 651,264 + 133,038,080 = 133,689,344
  "qemu-i440fx-128m-kvm.dmesg.txt": { format: "dmesg", raw: 133_692_416, normalized: 133_689_344 },
  // 0x0-0x9fbff              0x9fc00                                 =        654,336
  // 0x100000-0x7ffdbfff      0x7ffdc000 - 0x100000 = 0x7fedc000      =  2,146,287,616
  //                          (2 GiB - 1 MiB - 0x24000: 2,147,483,648 - 1,048,576 - 147,456)
  // 0x100000000-0x43fffffff  0x340000000 = 13 GiB                    = 13,958,643,712
  // raw 654,336 + 2,146,287,616 + 13,958,643,712 = 16,105,585,664
  // normalised 651,264 + 2,146,287,616 + 13,958,643,712 = 16,105,582,592
  "qemu-q35-15g-kvm.dmesg.txt": {
    format: "dmesg",
    raw: 16_105_585_664,
    normalized: 16_105_582_592,
  },
  // 0x1000-0x9ffff           0xa0000 - 0x1000 = 0x9f000             =       651,264
  // 0x100000-0x1ec4afff      0x1ec4b000 - 0x100000 = 0x1eb4b000     =   515,158,016 (125,771 pages)
  // 0x1ec4c000-0x1fc91fff    0x1fc92000 - 0x1ec4c000 = 0x1046000    =    17,063,936 (4,166 pages)
  // 0x1fc95000-0x1fca8fff    0x14000                                =        81,920
  // 0x1fcac000-0x1feaefff    0x203000                               =     2,109,440 (515 pages)
  // 0x1ffff000-0x1fffffff    0x1000                                 =         4,096
  // 0x20200000-0x7cccdfff    0x7ccce000 - 0x20200000 = 0x5cace000   = 1,554,833,408 (379,598 pages)
  // 0x100000000-0x17fffffff  0x80000000                             = 2,147,483,648
  // sum: 651,264 + 515,158,016 = 515,809,280; + 17,063,936 = 532,873,216; + 81,920 =
  // 532,955,136; + 2,109,440 = 535,064,576; + 4,096 = 535,068,672; + 1,554,833,408 =
  // 2,089,902,080; + 2,147,483,648 = 4,237,385,728. Every range is whole pages: no change.
  "chromebook-setzer-coreboot.dmesg.txt": {
    format: "dmesg",
    raw: 4_237_385_728,
    normalized: 4_237_385_728,
  },
  // 0x0-0x9fbff              0x9fc00                     =        654,336
  // 0x100000-0xbfffffff      3 GiB - 1 MiB               =  3,220,176,896
  // 0x100000000-0x63fffffff  0x540000000 = 21 GiB        = 22,548,578,304
  // raw 25,769,409,536 (24 GiB - 1 MiB + 639 KiB); normalised 25,769,406,464
  "cloud-vm-24g.dmesg.txt": { format: "dmesg", raw: 25_769_409_536, normalized: 25_769_406_464 },
  // The same VM read from /sys/firmware/memmap: the same ranges.
  "cloud-vm-24g.sysfs-memmap.txt": {
    format: "sysfs",
    raw: 25_769_409_536,
    normalized: 25_769_406_464,
  },
};

describe("the real firmware maps in test/fixtures/memmaps", () => {
  it("are all covered here (a new file needs its hand-computed totals)", () => {
    const files = readdirSync(MEMMAPS_DIR).filter((name) => name.endsWith(".txt"));
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, expected] of Object.entries(EXPECTED)) {
    describe(file, () => {
      const text = readMemmap(file);
      const map = parseMemoryMapText(text);

      it(`is detected as ${expected.format} and parses like the format's own parser`, () => {
        expect(detectMemoryMapFormat(text)).toBe(expected.format);
        const direct =
          expected.format === "dmesg" ? parseDmesgMemoryMap(text) : parseSysfsMemoryMap(text);
        expect(map).toEqual(direct);
        // One entry per entry line; DMI lines and notices are skipped.
        const entryLines = text.split("\n").filter((line) => /BIOS-e820:|^0x/.test(line.trim()));
        expect(map).toHaveLength(entryLines.length);
      });

      it(`has ${expected.raw} raw usable bytes`, () => {
        expect(rawUsable(map)).toBe(expected.raw);
      });

      it(`normalises to ${expected.normalized} usable bytes`, () => {
        const normalized = normalizeMemoryMap(map).map;
        expect(rawUsable(normalized)).toBe(expected.normalized);
        expect(totalBytes(map, "usable")).toBe(expected.normalized);
        for (const entry of normalized) {
          if (entry.type !== "usable") continue;
          expect(entry.base % 4096).toBe(0);
          expect(entry.length % 4096).toBe(0);
        }
      });

      it("summarises to the same totals; usableRanges drops only frame 0", () => {
        const summary = summarizeMemoryMap(map);
        expect(summary.raw.bytesByType.usable).toBe(expected.raw);
        expect(summary.normalized.bytesByType.usable).toBe(expected.normalized);
        const zones = summary.usableBytesByZone;
        expect(zones.DMA + zones.DMA32 + zones.NORMAL).toBe(expected.normalized);
        const frameZeroUsable = map.some((e) => e.type === "usable" && e.base === 0);
        const allocatable = usableRanges(map).reduce((sum, range) => sum + range.length, 0);
        expect(allocatable).toBe(expected.normalized - (frameZeroUsable ? 4096 : 0));
        expect(summary.allocatableBytes).toBe(allocatable);
      });
    });
  }

  it("reads the chromebook's ACPI islands and reserved page 0", () => {
    const map = parseMemoryMapText(readMemmap("chromebook-setzer-coreboot.dmesg.txt"));
    expect(map[0]).toEqual({ base: 0, length: 0x1000, type: "reserved" });
    expect(map[4]).toEqual({ base: 0x1ec4b000, length: 0x1000, type: "acpi-reclaimable" });
    expect(map[11]).toEqual({ base: 0x1fff3000, length: 0x4000, type: "acpi-nvs" });
    // ACPI data 0x1000 + 0x3000 + 0x3000 + 0x8000 = 61,440; ACPI NVS 0x4000 = 16,384.
    expect(totalBytes(map, "acpi-reclaimable")).toBe(61_440);
    expect(totalBytes(map, "acpi-nvs")).toBe(16_384);
  });

  it("gives the same map for the cloud VM from dmesg and from sysfs", () => {
    expect(parseMemoryMapText(readMemmap("cloud-vm-24g.sysfs-memmap.txt"))).toEqual(
      parseMemoryMapText(readMemmap("cloud-vm-24g.dmesg.txt")),
    );
  });

  it("counts the i440fx 128M reserved bytes", () => {
    // 0x400 EBDA + 0x10000 BIOS + 0x20000 SeaBIOS tables + 0x4000 KVM + 0x40000 ROM = 476,160.
    const map = parseMemoryMapText(readMemmap("qemu-i440fx-128m-kvm.dmesg.txt"));
    expect(totalBytes(map, "reserved")).toBe(476_160);
  });
});
