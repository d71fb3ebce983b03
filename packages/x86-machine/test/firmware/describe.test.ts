import { describe, expect, it } from "vitest";
import {
  MEMORY_MAP_PRESETS,
  formatBytes,
  formatMemoryMap,
  formatMemoryMapSummary,
  memoryTypeLabel,
  summarizeMemoryMap,
} from "@allockit/x86-machine";
import { expectAllocatorError } from "./helpers.js";

const MiB = 2 ** 20;

describe("formatMemoryMap", () => {
  it("prints base, inclusive end, size and type in aligned columns", () => {
    const text = formatMemoryMap([
      { base: 0, length: 0x9fc00, type: "usable" },
      { base: 0xfeffc000, length: 0x4000, type: "reserved" },
      { base: 0x100000000, length: 2 ** 32, type: "unknown", raw: 12 },
      { base: 0x5000, length: 0, type: "acpi-nvs" },
    ]);
    expect(text).toBe(
      [
        "base                end (inclusive)     size     type",
        "0x0000000000000000  0x000000000009fbff  639 KiB  usable",
        "0x00000000feffc000  0x00000000feffffff  16 KiB   reserved",
        "0x0000000100000000  0x00000001ffffffff  4 GiB    unknown (type 12)",
        "0x0000000000005000  -                   0 B      acpi-nvs",
        "",
      ].join("\n"),
    );
  });

  it("prints sizes exactly or truncated, never rounded up to the next whole unit", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(0x9fc00)).toBe("639 KiB");
    expect(formatBytes(1536)).toBe("1.50 KiB");
    expect(formatBytes(0x7fedc000)).toBe("1.99 GiB");
    expect(formatBytes(62 * 2 ** 30)).toBe("62 GiB");
    expect(formatBytes(2 ** 52)).toBe("4 PiB");
  });

  it("labels unknown types with and without a raw number", () => {
    expect(memoryTypeLabel({ base: 0, length: 1, type: "unknown" })).toBe("unknown");
    expect(memoryTypeLabel({ base: 0, length: 1, type: "bad" })).toBe("bad");
  });
});

describe("summarizeMemoryMap", () => {
  it("totals each type raw and normalised, and usable bytes per zone", () => {
    const summary = summarizeMemoryMap(MEMORY_MAP_PRESETS["qemu-i440fx-128m"]!);
    expect(summary.raw.entryCount).toBe(7);
    expect(summary.raw.bytesByType).toEqual({
      usable: 133_692_416,
      "acpi-reclaimable": 0,
      "acpi-nvs": 0,
      reserved: 476_160,
      unknown: 0,
      bad: 0,
    });
    expect(summary.normalized.bytesByType.usable).toBe(133_689_344);
    expect(summary.normalized.changes).toHaveLength(1);
    // DMA: 636 KiB (0 .. 0x9f000) + 15 MiB (1 MiB .. 16 MiB) = 16,379,904.
    // DMA32: the rest of 1 MiB .. 0x7fe0000 = 133,038,080 - 15 MiB = 117,309,440.
    expect(summary.usableBytesByZone).toEqual({ DMA: 16_379_904, DMA32: 117_309_440, NORMAL: 0 });
    expect(summary.allocatableBytes).toBe(133_689_344 - 4096);
    expect(summary.usableEnd).toBe(0x7fe0000);
  });

  it("resolves overlaps in the normalised totals but counts raw entries as given", () => {
    const summary = summarizeMemoryMap([
      { base: 0, length: 4 * MiB, type: "usable" },
      { base: 2 * MiB, length: 4 * MiB, type: "usable" },
      { base: 3 * MiB, length: MiB, type: "bad" },
    ]);
    expect(summary.raw.bytesByType.usable).toBe(8 * MiB);
    expect(summary.normalized.bytesByType.usable).toBe(5 * MiB);
    expect(summary.normalized.bytesByType.bad).toBe(MiB);
    expect(summary.normalized.entryCount).toBe(3);
  });

  it("formats the summary, and rejects a malformed map with EINVAL", () => {
    const text = formatMemoryMapSummary(summarizeMemoryMap(MEMORY_MAP_PRESETS["qemu-q35-4g"]!));
    expect(text).toContain("usable");
    expect(text).toContain("raw ");
    expect(text).toContain("zone NORMAL");
    expect(text).toContain("2 GiB (2147483648 bytes)");
    expectAllocatorError(
      () => summarizeMemoryMap([{ base: -1, length: 1, type: "usable" }]),
      "EINVAL",
      "base -1",
    );
  });
});
