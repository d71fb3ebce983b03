import {
  AllocatorError,
  normalizeMemoryMap,
  type MemoryMap,
  type MemoryMapEntry,
} from "@allockit/core";
import {
  decodeMultiboot1MemoryMap,
  decodeMultiboot2Info,
  detectMemoryMapFormat,
  formatMemoryMap,
  formatMemoryMapSummary,
  parseMemoryMapText,
  summarizeMemoryMap,
  type MemoryMapSummary,
} from "@allockit/x86-machine";

/** The inputs `allockit memmap` reads. */
export const MEMMAP_FORMATS = ["dmesg", "sysfs", "multiboot1", "multiboot2"] as const;
export type MemmapFormat = (typeof MEMMAP_FORMATS)[number];

/** What `allockit memmap --json` prints. */
export interface MemmapReport {
  source: string;
  format: MemmapFormat;
  /** The entries as the firmware gave them. */
  raw: MemoryMapEntry[];
  /** After normalisation: sorted, overlaps resolved (the more restrictive type wins), merged. */
  normalized: MemoryMapEntry[];
  /** What normalising changed, one line each. */
  changes: string[];
  summary: MemoryMapSummary;
}

/** True when the bytes look like text: no NUL and mostly printable. */
function isText(bytes: Uint8Array): boolean {
  const sample = bytes.subarray(0, 4096);
  let printable = 0;
  for (const byte of sample) {
    if (byte === 0) return false;
    if (byte === 9 || byte === 10 || byte === 13 || (byte >= 0x20 && byte < 0x7f)) printable++;
  }
  return sample.length === 0 || printable / sample.length > 0.95;
}

/**
 * The format of a memory-map dump: dmesg `BIOS-e820:` lines or a /sys/firmware/memmap listing
 * for text; for binary, a multiboot2 boot information structure when its total_size matches
 * the dump, else a multiboot1 mmap buffer (entries of size + base + length + type).
 */
export function detectMemmapFormat(bytes: Uint8Array): MemmapFormat {
  if (isText(bytes)) {
    const format = detectMemoryMapFormat(new TextDecoder().decode(bytes));
    if (format === undefined) {
      throw new AllocatorError(
        "EINVAL",
        "no memory map in the input: expected dmesg BIOS-e820: lines, a /sys/firmware/memmap listing, or a multiboot1/2 dump",
        undefined,
      );
    }
    return format;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const totalSize = bytes.byteLength >= 8 ? view.getUint32(0, true) : 0;
  return totalSize === bytes.byteLength && view.getUint32(4, true) === 0
    ? "multiboot2"
    : "multiboot1";
}

/** Parses a dump in `format` (detected when not given) into its raw entries. */
export function parseMemmap(bytes: Uint8Array, format = detectMemmapFormat(bytes)): MemoryMap {
  switch (format) {
    case "dmesg":
    case "sysfs":
      return parseMemoryMapText(new TextDecoder().decode(bytes));
    case "multiboot1":
      return decodeMultiboot1MemoryMap(bytes);
    case "multiboot2": {
      const info = decodeMultiboot2Info(bytes);
      if (info.memoryMap === undefined) {
        throw new AllocatorError(
          "EINVAL",
          `the multiboot2 information (${info.tags.length} tags) has no memory-map tag (type 6)`,
          info.tags.length,
        );
      }
      return info.memoryMap;
    }
  }
}

/** Reads, normalises and summarises a memory-map dump. */
export function memmapReport(
  bytes: Uint8Array,
  source: string,
  format?: MemmapFormat,
): MemmapReport {
  const detected = format ?? detectMemmapFormat(bytes);
  const raw = [...parseMemmap(bytes, detected)];
  const normalized = normalizeMemoryMap(raw);
  return {
    source,
    format: detected,
    raw,
    normalized: [...normalized.map],
    changes: [...normalized.changes],
    summary: summarizeMemoryMap(raw),
  };
}

/** The report as text: the raw table, the normalised one with what changed, the totals and zones. */
export function formatMemmapReport(report: MemmapReport): string {
  return [
    `memory map from ${report.source} (${report.format}): ${report.raw.length} entries, ${report.normalized.length} after normalising`,
    "",
    "raw:",
    formatMemoryMap(report.raw).trimEnd(),
    "",
    "normalised:",
    formatMemoryMap(report.normalized).trimEnd(),
    ...(report.changes.length === 0
      ? ["(normalising changed nothing)"]
      : report.changes.map((change) => `  - ${change}`)),
    "",
    "totals:",
    formatMemoryMapSummary(report.summary).trimEnd(),
    "",
  ].join("\n");
}
