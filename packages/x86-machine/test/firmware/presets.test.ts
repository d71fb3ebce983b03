import { describe, expect, it } from "vitest";
import { normalizeMemoryMap, totalBytes, type MemoryMap } from "@allockit/core";
import {
  MEMORY_MAP_PRESETS,
  memoryMapPreset,
  parseMemoryMapText,
  qemuMemoryMap,
  qemuRamSplit,
  summarizeMemoryMap,
} from "@allockit/x86-machine";
import { expectAllocatorError, readMemmap } from "./helpers.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** The map as [base, last byte, type] triples, easy to compare with a dmesg listing. */
function triples(map: MemoryMap): [number, number, string][] {
  return map.map((entry) => [entry.base, entry.base + entry.length - 1, entry.type]);
}

/** The part of every SeaBIOS map below 1 MiB. */
const LOW: [number, number, string][] = [
  [0x0, 0x9fbff, "usable"],
  [0x9fc00, 0x9ffff, "reserved"],
  [0xf0000, 0xfffff, "reserved"],
];

describe("QEMU + SeaBIOS presets", () => {
  it("qemu-i440fx-128m equals the real -m 128M boot log entry for entry", () => {
    const real = parseMemoryMapText(readMemmap("qemu-i440fx-128m-kvm.dmesg.txt"));
    expect(MEMORY_MAP_PRESETS["qemu-i440fx-128m"]).toEqual(real);
    expect(qemuMemoryMap({ machine: "i440fx", ramBytes: 128 * MiB })).toEqual(real);
  });

  it("a q35 with 15 GiB equals the real q35 boot log entry for entry", () => {
    const real = parseMemoryMapText(readMemmap("qemu-q35-15g-kvm.dmesg.txt"));
    expect(MEMORY_MAP_PRESETS["qemu-q35-15g"]).toEqual(real);
  });

  it("splits i440fx RAM at 3 GiB from 3.5 GiB of RAM on", () => {
    expect(qemuRamSplit("i440fx", 3 * GiB)).toEqual({
      belowFourGiBBytes: 3 * GiB,
      aboveFourGiBBytes: 0,
    });
    // Just below 3.5 GiB everything still fits under the hole at 0xe0000000.
    expect(qemuRamSplit("i440fx", 0xe0000000 - 4096).aboveFourGiBBytes).toBe(0);
    expect(qemuRamSplit("i440fx", 0xe0000000)).toEqual({
      belowFourGiBBytes: 0xc0000000,
      aboveFourGiBBytes: 0x20000000,
    });
    expect(triples(MEMORY_MAP_PRESETS["qemu-i440fx-4g"]!)).toEqual([
      ...LOW,
      [0x100000, 0xbffdffff, "usable"],
      [0xbffe0000, 0xbfffffff, "reserved"],
      [0xfeffc000, 0xfeffffff, "reserved"],
      [0xfffc0000, 0xffffffff, "reserved"],
      [0x100000000, 0x13fffffff, "usable"],
    ]);
    expect(triples(MEMORY_MAP_PRESETS["qemu-i440fx-8g"]!)).toEqual([
      ...LOW,
      [0x100000, 0xbffdffff, "usable"],
      [0xbffe0000, 0xbfffffff, "reserved"],
      [0xfeffc000, 0xfeffffff, "reserved"],
      [0xfffc0000, 0xffffffff, "reserved"],
      [0x100000000, 0x23fffffff, "usable"],
    ]);
  });

  it("splits q35 RAM at 2 GiB from 2.75 GiB of RAM on, with MMCONFIG and the RCRB reserved", () => {
    expect(qemuRamSplit("q35", 0xb0000000 - 4096).aboveFourGiBBytes).toBe(0);
    expect(qemuRamSplit("q35", 0xb0000000)).toEqual({
      belowFourGiBBytes: 0x80000000,
      aboveFourGiBBytes: 0x30000000,
    });
    expect(triples(MEMORY_MAP_PRESETS["qemu-q35-4g"]!)).toEqual([
      ...LOW,
      [0x100000, 0x7ffdbfff, "usable"],
      [0x7ffdc000, 0x7fffffff, "reserved"],
      [0xb0000000, 0xbfffffff, "reserved"],
      [0xfed1c000, 0xfed1ffff, "reserved"],
      [0xfeffc000, 0xfeffffff, "reserved"],
      [0xfffc0000, 0xffffffff, "reserved"],
      [0x100000000, 0x17fffffff, "usable"],
    ]);
  });

  it("generates a 64 GiB q35 map with the right totals", () => {
    const map = MEMORY_MAP_PRESETS["qemu-q35-64g"]!;
    expect(map).toEqual(qemuMemoryMap({ machine: "q35", ramBytes: 64 * GiB }));
    expect(map[map.length - 1]).toEqual({ base: 4 * GiB, length: 62 * GiB, type: "usable" });
    // 654,336 (0-0x9fbff) + 2,146,287,616 (1 MiB .. 2 GiB - 144 KiB) + 66,571,993,088 (62 GiB)
    // = 68,718,935,040 raw; the 639 KiB piece becomes 636 KiB (651,264) normalised.
    const summary = summarizeMemoryMap(map);
    expect(summary.raw.bytesByType.usable).toBe(68_718_935_040);
    expect(totalBytes(map)).toBe(68_718_931_968);
    expect(summary.usableBytesByZone).toEqual({
      DMA: 651_264 + 15 * MiB,
      DMA32: 2 * GiB - 16 * MiB - 144 * 1024,
      NORMAL: 62 * GiB,
    });
  });

  it("every preset is sorted, disjoint and unchanged by normalisation except page 0x9f000", () => {
    for (const [name, map] of Object.entries(MEMORY_MAP_PRESETS)) {
      for (let i = 1; i < map.length; i++) {
        expect(map[i]!.base, name).toBeGreaterThanOrEqual(map[i - 1]!.base + map[i - 1]!.length);
      }
      expect(normalizeMemoryMap(map).changes, name).toEqual([
        "usable 0x0..0x9fc00 aligned inward to whole pages 0x0..0x9f000",
      ]);
      expect(Object.isFrozen(map), name).toBe(true);
    }
  });

  it("keeps everything below 4 GiB for small RAM and leaves out the KVM pages without KVM", () => {
    const map = qemuMemoryMap({ machine: "q35", ramBytes: 2 * GiB, kvm: false });
    expect(triples(map)).toEqual([
      ...LOW,
      [0x100000, 0x7ffdbfff, "usable"],
      [0x7ffdc000, 0x7fffffff, "reserved"],
      [0xb0000000, 0xbfffffff, "reserved"],
      [0xfed1c000, 0xfed1ffff, "reserved"],
      [0xfffc0000, 0xffffffff, "reserved"],
    ]);
    const noTables = qemuMemoryMap({ machine: "i440fx", ramBytes: 64 * MiB, biosTablesBytes: 0 });
    expect(triples(noTables)[3]).toEqual([0x100000, 0x3ffffff, "usable"]);
  });

  it("rejects bad options with EINVAL naming the value", () => {
    expectAllocatorError(
      () => qemuMemoryMap({ machine: "isapc" as "q35", ramBytes: GiB }),
      "EINVAL",
      '"isapc"',
    );
    expectAllocatorError(
      () => qemuMemoryMap({ machine: "q35", ramBytes: GiB + 1 }),
      "EINVAL",
      "1073741825",
    );
    expectAllocatorError(
      () => qemuMemoryMap({ machine: "q35", ramBytes: MiB }),
      "EINVAL",
      "1048576",
    );
    expectAllocatorError(
      () => qemuMemoryMap({ machine: "q35", ramBytes: 2 ** 52 }),
      "EINVAL",
      "2^52",
    );
    expectAllocatorError(
      () => qemuMemoryMap({ machine: "i440fx", ramBytes: GiB, biosTablesBytes: 100 }),
      "EINVAL",
      "biosTablesBytes 100",
    );
    expectAllocatorError(() => memoryMapPreset("qemu-q35-1t"), "EINVAL", "qemu-i440fx-128m");
    expect(memoryMapPreset("qemu-q35-4g")).toBe(MEMORY_MAP_PRESETS["qemu-q35-4g"]);
  });
});
