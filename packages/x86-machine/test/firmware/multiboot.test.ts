import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MemoryMapEntry } from "@allockit/core";
import {
  MEMORY_MAP_PRESETS,
  MULTIBOOT1_MMAP_ENTRY_SIZE,
  MULTIBOOT1_MMAP_ENTRY_STRIDE,
  MULTIBOOT2_TAG_TYPE,
  decodeMultiboot1MemoryMap,
  decodeMultiboot2Info,
  decodeMultiboot2MemoryMapTag,
  encodeMultiboot1MemoryMap,
  encodeMultiboot2BasicMemInfoTag,
  encodeMultiboot2Info,
  encodeMultiboot2MemoryMapTag,
  encodeMultiboot2Tag,
  multibootBasicMemory,
  parseMemoryMapText,
} from "@allockit/x86-machine";
import { expectAllocatorError, fuzzRuns, readMemmap } from "./helpers.js";

const view = (bytes: Uint8Array): DataView =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const u32 = (bytes: Uint8Array, offset: number): number => view(bytes).getUint32(offset, true);

/** Two entries with 64-bit values whose high halves are not zero. */
const SAMPLE: MemoryMapEntry[] = [
  { base: 0x9fc00, length: 0x400, type: "reserved" },
  { base: 0x1_2345_6000, length: 0x2_0000_1000, type: "unknown", raw: 12 },
];

/** Random maps: base and length below 2^52, every type, unknown types with any other number. */
const arbitraryMap = fc.array(
  fc
    .record({
      base: fc.integer({ min: 0, max: 2 ** 52 - 1 }),
      length: fc.integer({ min: 0, max: 2 ** 52 - 1 }),
      type: fc.constantFrom("usable", "reserved", "acpi-reclaimable", "acpi-nvs", "bad", "unknown"),
      raw: fc.oneof(fc.constant(0), fc.integer({ min: 6, max: 0xffffffff })),
    })
    .map(({ base, length, type, raw }): MemoryMapEntry =>
      type === "unknown" ? { base, length, type, raw } : { base, length, type },
    ),
  { maxLength: 40 },
);

describe("multiboot1 memory map", () => {
  it("lays each entry out as size, base_addr, length, type at a 24-byte stride", () => {
    const bytes = encodeMultiboot1MemoryMap(SAMPLE);
    expect(bytes.length).toBe(48);
    expect(MULTIBOOT1_MMAP_ENTRY_STRIDE).toBe(24);
    // Entry 0.
    expect(u32(bytes, 0)).toBe(20); // size
    expect(u32(bytes, 4)).toBe(0x9fc00); // base_addr low
    expect(u32(bytes, 8)).toBe(0); // base_addr high
    expect(u32(bytes, 12)).toBe(0x400); // length low
    expect(u32(bytes, 16)).toBe(0); // length high
    expect(u32(bytes, 20)).toBe(2); // type reserved
    // Entry 1: 64-bit halves little-endian, raw type kept.
    expect(u32(bytes, 24)).toBe(MULTIBOOT1_MMAP_ENTRY_SIZE);
    expect(u32(bytes, 28)).toBe(0x2345_6000);
    expect(u32(bytes, 32)).toBe(0x1);
    expect(u32(bytes, 36)).toBe(0x1000);
    expect(u32(bytes, 40)).toBe(0x2);
    expect(u32(bytes, 44)).toBe(12);
    expect([...bytes.subarray(4, 12)]).toEqual([0x00, 0xfc, 0x09, 0, 0, 0, 0, 0]);
    expect(decodeMultiboot1MemoryMap(bytes)).toEqual(SAMPLE);
  });

  it("steps by each entry's own size + 4, ignoring extra bytes", () => {
    // Entry 0 is a 28-byte extended entry (size 28 -> stride 32), entry 1 is standard.
    const bytes = new Uint8Array(32 + 24);
    const v = view(bytes);
    v.setUint32(0, 28, true);
    v.setUint32(4, 0x1000, true);
    v.setUint32(12, 0x9e000, true);
    v.setUint32(20, 1, true);
    v.setUint32(24, 0xdeadbeef, true); // loader-specific extra fields
    v.setUint32(28, 0xcafef00d, true);
    v.setUint32(32, 20, true);
    v.setUint32(36, 0x100000, true);
    v.setUint32(44, 0x7ee0000, true);
    v.setUint32(52, 3, true);
    expect(decodeMultiboot1MemoryMap(bytes)).toEqual([
      { base: 0x1000, length: 0x9e000, type: "usable" },
      { base: 0x100000, length: 0x7ee0000, type: "acpi-reclaimable" },
    ]);
    // The same bytes seen through a DataView at an offset into a larger buffer.
    const padded = new Uint8Array(8 + bytes.length);
    padded.set(bytes, 8);
    expect(decodeMultiboot1MemoryMap(new DataView(padded.buffer, 8))).toEqual(
      decodeMultiboot1MemoryMap(bytes),
    );
  });

  it("rejects truncated entries, short sizes and values of 2^53 or more", () => {
    const bytes = encodeMultiboot1MemoryMap(SAMPLE);
    expectAllocatorError(
      () => decodeMultiboot1MemoryMap(bytes.subarray(0, 40)),
      "EINVAL",
      "runs past mmap_length 40",
    );
    expectAllocatorError(
      () => decodeMultiboot1MemoryMap(bytes.subarray(0, 26)),
      "EINVAL",
      "2 stray bytes at offset 24",
    );
    const short = bytes.slice();
    view(short).setUint32(24, 16, true);
    expectAllocatorError(() => decodeMultiboot1MemoryMap(short), "EINVAL", "has size 16");
    const huge = bytes.slice();
    view(huge).setUint32(8, 0x200000, true); // base_addr high half: 2^53
    expectAllocatorError(() => decodeMultiboot1MemoryMap(huge), "EINVAL", "0x2000000009fc00");
    expectAllocatorError(
      () => encodeMultiboot1MemoryMap([{ base: 2 ** 53, length: 1, type: "usable" }]),
      "EINVAL",
      "9007199254740992",
    );
    expectAllocatorError(
      () => encodeMultiboot1MemoryMap([{ base: 0, length: -1, type: "usable" }]),
      "EINVAL",
      "length -1",
    );
    expectAllocatorError(
      () => encodeMultiboot1MemoryMap([{ base: 0, length: 1, type: "unknown" }]),
      "EINVAL",
      "no E820 type number",
    );
    expect(decodeMultiboot1MemoryMap(new Uint8Array(0))).toEqual([]);
  });

  it("round-trips random maps exactly", () => {
    fc.assert(
      fc.property(arbitraryMap, (map) => {
        const bytes = encodeMultiboot1MemoryMap(map);
        expect(bytes.length).toBe(map.length * 24);
        expect(decodeMultiboot1MemoryMap(bytes)).toEqual(map);
      }),
      { numRuns: fuzzRuns() },
    );
  });
});

describe("multiboot2 memory-map tag and boot information", () => {
  it("lays the tag out as type 6, size, entry_size 24, entry_version 0, then entries", () => {
    const tag = encodeMultiboot2MemoryMapTag(SAMPLE);
    expect(tag.length).toBe(16 + 2 * 24);
    expect(u32(tag, 0)).toBe(6);
    expect(u32(tag, 4)).toBe(64);
    expect(u32(tag, 8)).toBe(24);
    expect(u32(tag, 12)).toBe(0);
    // Entry 0 at 16: base_addr, length, type, reserved.
    expect([u32(tag, 16), u32(tag, 20), u32(tag, 24), u32(tag, 28)]).toEqual([
      0x9fc00, 0, 0x400, 0,
    ]);
    expect([u32(tag, 32), u32(tag, 36)]).toEqual([2, 0]);
    // Entry 1 at 40.
    expect([u32(tag, 40), u32(tag, 44)]).toEqual([0x2345_6000, 1]);
    expect([u32(tag, 48), u32(tag, 52)]).toEqual([0x1000, 2]);
    expect([u32(tag, 56), u32(tag, 60)]).toEqual([12, 0]);
    expect(decodeMultiboot2MemoryMapTag(tag)).toEqual(SAMPLE);
  });

  it("wraps tags in total_size, reserved, 8-byte aligned tags and the end tag", () => {
    const cmdline = encodeMultiboot2Tag(
      MULTIBOOT2_TAG_TYPE.CMDLINE,
      new TextEncoder().encode("console=ttyS0\0"),
    );
    expect(cmdline.length).toBe(22); // 8 + 14: padded to 24 inside the structure
    const mmap = encodeMultiboot2MemoryMapTag(SAMPLE);
    const info = encodeMultiboot2Info([cmdline, mmap]);
    // 8 header + 24 (cmdline padded) + 64 (mmap) + 8 (end tag) = 104.
    expect(info.length).toBe(104);
    expect(u32(info, 0)).toBe(104);
    expect(u32(info, 4)).toBe(0);
    expect([u32(info, 8), u32(info, 12)]).toEqual([1, 22]);
    expect([...info.subarray(30, 32)]).toEqual([0, 0]); // padding
    expect([u32(info, 32), u32(info, 36)]).toEqual([6, 64]);
    expect([u32(info, 96), u32(info, 100)]).toEqual([0, 8]); // end tag
    const decoded = decodeMultiboot2Info(info);
    expect(decoded.totalSize).toBe(104);
    expect(decoded.tags).toEqual([
      { type: 1, offset: 8, size: 22 },
      { type: 6, offset: 32, size: 64 },
    ]);
    expect(decoded.memoryMap).toEqual(SAMPLE);
    expect(decoded.basicMemory).toBeUndefined();
  });

  it("decodes a tag with a larger entry_size by stepping entry_size bytes", () => {
    // entry_size 32: each entry has 8 bytes of future fields after reserved.
    const tag = new Uint8Array(16 + 2 * 32);
    const v = view(tag);
    v.setUint32(0, 6, true);
    v.setUint32(4, tag.length, true);
    v.setUint32(8, 32, true);
    v.setUint32(12, 1, true); // a later entry_version: still readable
    v.setUint32(16, 0, true);
    v.setUint32(24, 0x9fc00, true);
    v.setUint32(32, 1, true);
    v.setUint32(40, 0xffffffff, true); // future field
    v.setUint32(48, 0, true);
    v.setUint32(52, 1, true); // base 4 GiB
    v.setUint32(56, 0x40000000, true);
    v.setUint32(64, 1, true);
    expect(decodeMultiboot2MemoryMapTag(tag)).toEqual([
      { base: 0, length: 0x9fc00, type: "usable" },
      { base: 2 ** 32, length: 2 ** 30, type: "usable" },
    ]);
  });

  it("skips other tags by their size rounded up to 8, and reads basic meminfo", () => {
    const map = parseMemoryMapText(readMemmap("qemu-i440fx-128m-kvm.dmesg.txt"));
    const basic = multibootBasicMemory(map);
    // 0x9fc00 / 1024 = 639 KiB; (0x7fe0000 - 0x100000) / 1024 = 129,920 KiB.
    expect(basic).toEqual({ memLowerKiB: 639, memUpperKiB: 129_920 });
    const name = encodeMultiboot2Tag(
      MULTIBOOT2_TAG_TYPE.BOOT_LOADER_NAME,
      new TextEncoder().encode("GRUB 2.12\0"),
    );
    const odd = encodeMultiboot2Tag(21, new Uint8Array([1, 2, 3]));
    const info = encodeMultiboot2Info([
      name,
      odd,
      encodeMultiboot2BasicMemInfoTag(basic),
      encodeMultiboot2MemoryMapTag(map),
    ]);
    const decoded = decodeMultiboot2Info(info);
    expect(decoded.tags.map((tag) => [tag.type, tag.offset, tag.size])).toEqual([
      [2, 8, 18],
      [21, 32, 11],
      [4, 48, 16],
      [6, 64, 16 + 7 * 24],
    ]);
    expect(decoded.tags.every((tag) => tag.offset % 8 === 0)).toBe(true);
    expect(decoded.basicMemory).toEqual(basic);
    expect(decoded.memoryMap).toEqual(map);
  });

  it("rejects malformed structures and tags with EINVAL", () => {
    const info = encodeMultiboot2Info([encodeMultiboot2MemoryMapTag(SAMPLE)]);
    const edit = (offset: number, value: number): Uint8Array => {
      const copy = info.slice();
      view(copy).setUint32(offset, value, true);
      return copy;
    };
    expectAllocatorError(
      () => decodeMultiboot2Info(info.subarray(0, 4)),
      "EINVAL",
      "shorter than its 8-byte header",
    );
    expectAllocatorError(() => decodeMultiboot2Info(edit(0, 200)), "EINVAL", "total_size 200");
    expectAllocatorError(() => decodeMultiboot2Info(edit(12, 4)), "EINVAL", "has size 4");
    expectAllocatorError(() => decodeMultiboot2Info(edit(12, 500)), "EINVAL", "has size 500");
    // 8 header + 64 memory-map tag: the end tag sits at 72.
    expectAllocatorError(() => decodeMultiboot2Info(edit(72, 9)), "EINVAL", "no end tag");
    expectAllocatorError(() => decodeMultiboot2Info(edit(76, 16)), "EINVAL", "has size 16");
    expectAllocatorError(
      () => decodeMultiboot2Info(info.subarray(0, 72)),
      "EINVAL",
      "total_size 80",
    );
    expectAllocatorError(() => decodeMultiboot2Info(edit(16, 16)), "EINVAL", "entry_size 16");
    expectAllocatorError(
      () => decodeMultiboot2Info(edit(16, 40)),
      "EINVAL",
      "not a multiple of entry_size 40",
    );
    expectAllocatorError(
      () => decodeMultiboot2MemoryMapTag(encodeMultiboot2Tag(4, new Uint8Array(8))),
      "EINVAL",
      "tag type 4",
    );
    expectAllocatorError(() => encodeMultiboot2Info([new Uint8Array(8)]), "EINVAL", "end tag");
    expectAllocatorError(
      () => encodeMultiboot2Info([new Uint8Array(4)]),
      "EINVAL",
      "shorter than a tag header",
    );
    const lying = encodeMultiboot2Tag(1, new Uint8Array(4));
    view(lying).setUint32(4, 20, true);
    expectAllocatorError(
      () => encodeMultiboot2Info([lying]),
      "EINVAL",
      "size field 20 but 12 bytes",
    );
    expectAllocatorError(
      () => encodeMultiboot2MemoryMapTag([{ base: 0, length: 2 ** 60, type: "usable" }]),
      "EINVAL",
      String(2 ** 60),
    );
    const bigLength = encodeMultiboot2MemoryMapTag(SAMPLE);
    view(bigLength).setUint32(28, 0xffffffff, true); // entry 0 length high half
    expectAllocatorError(
      () => decodeMultiboot2MemoryMapTag(bigLength),
      "EINVAL",
      "0xffffffff00000400",
    );
  });

  it("an info with no tags is the header and the end tag", () => {
    const info = encodeMultiboot2Info([]);
    expect([...info]).toEqual([16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0]);
    expect(decodeMultiboot2Info(info)).toEqual({ totalSize: 16, tags: [] });
  });

  it("round-trips random maps exactly, alone and inside an information structure", () => {
    fc.assert(
      fc.property(arbitraryMap, fc.uint8Array({ maxLength: 30 }), (map, junk) => {
        const tag = encodeMultiboot2MemoryMapTag(map);
        expect(decodeMultiboot2MemoryMapTag(tag)).toEqual(map);
        const info = encodeMultiboot2Info([encodeMultiboot2Tag(99, junk), tag]);
        expect(info.length % 8).toBe(0);
        expect(decodeMultiboot2Info(info).memoryMap).toEqual(map);
      }),
      { numRuns: fuzzRuns() },
    );
  });

  it("carries every preset through both encodings", () => {
    for (const map of Object.values(MEMORY_MAP_PRESETS)) {
      expect(decodeMultiboot1MemoryMap(encodeMultiboot1MemoryMap(map))).toEqual(map);
      expect(
        decodeMultiboot2Info(encodeMultiboot2Info([encodeMultiboot2MemoryMapTag(map)])).memoryMap,
      ).toEqual(map);
    }
  });
});

describe("multibootBasicMemory", () => {
  it("stops upper memory at the first hole and finds no lower memory when page 0 is reserved", () => {
    const map = parseMemoryMapText(readMemmap("chromebook-setzer-coreboot.dmesg.txt"));
    // Usable from 0x1000, not 0: no lower memory. Upper: 0x100000 .. 0x1ec4b000 (ACPI island).
    expect(multibootBasicMemory(map)).toEqual({
      memLowerKiB: 0,
      memUpperKiB: (0x1ec4b000 - 0x100000) / 1024,
    });
    // A reserved entry overlapping usable RAM cuts it too.
    expect(
      multibootBasicMemory([
        { base: 0, length: 0x200000, type: "usable" },
        { base: 0x180000, length: 0x1000, type: "reserved" },
      ]),
    ).toEqual({ memLowerKiB: 640, memUpperKiB: 512 });
  });
});
