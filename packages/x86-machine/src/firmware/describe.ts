import {
  DEFAULT_ZONE_LIMITS,
  MEMORY_TYPES_BY_RESTRICTIVENESS,
  ZONES,
  hex,
  normalizeMemoryMap,
  usableRanges,
  type MemoryMap,
  type MemoryType,
  type Zone,
} from "@allockit/core";
import { memoryTypeLabel } from "./e820.js";

/** Human-readable views of a memory map: a table and per-type / per-zone totals. */

const ADDRESS_DIGITS = 16;

/**
 * A table of the entries in the given order: base, end (inclusive, as Linux prints it), size
 * and type, one line each after a header line. A zero-length entry shows "-" as its end.
 */
export function formatMemoryMap(map: MemoryMap): string {
  const rows = map.map((entry) => [
    hex(entry.base, ADDRESS_DIGITS),
    entry.length > 0 ? hex(entry.base + entry.length - 1, ADDRESS_DIGITS) : "-",
    formatBytes(entry.length),
    memoryTypeLabel(entry),
  ]);
  return formatTable(["base", "end (inclusive)", "size", "type"], rows);
}

const SIZE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * A size in the largest binary unit it reaches, exact when it is a whole number of that unit and
 * otherwise truncated to two decimals, so that 2 GiB - 144 KiB reads "1.99 GiB", never "2 GiB".
 */
export function formatBytes(bytes: number): string {
  let unit = 0;
  while (unit < SIZE_UNITS.length - 1 && bytes >= 1024 ** (unit + 1)) unit++;
  const scale = 1024 ** unit;
  if (bytes % scale === 0) return `${bytes / scale} ${SIZE_UNITS[unit]}`;
  const hundredths = Math.floor((bytes / scale) * 100);
  return `${(hundredths / 100).toFixed(2)} ${SIZE_UNITS[unit]}`;
}

function formatTable(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd() + "\n";
  return line(header) + rows.map(line).join("");
}

export type MemoryTypeTotals = Record<MemoryType, number>;

export interface MemoryMapSummary {
  /** The entries as given: bytes per type, an overlap counted once per entry covering it. */
  raw: { entryCount: number; bytesByType: MemoryTypeTotals };
  /** After core's normalizeMemoryMap (overlaps resolved, usable RAM in whole pages). */
  normalized: { entryCount: number; bytesByType: MemoryTypeTotals; changes: string[] };
  /** Usable bytes of the normalised map per zone: DMA < 16 MiB, DMA32 < 4 GiB, NORMAL above. */
  usableBytesByZone: Record<Zone, number>;
  /** What an allocator may hand out: core's usableRanges, i.e. without frame 0. */
  allocatableBytes: number;
  /** One past the highest usable byte of the normalised map; 0 when there is none. */
  usableEnd: number;
}

function zeroTotals(): MemoryTypeTotals {
  const totals = {} as MemoryTypeTotals;
  for (const type of MEMORY_TYPES_BY_RESTRICTIVENESS) totals[type] = 0;
  return totals;
}

/**
 * Totals of `map` per type, raw and normalised, and usable bytes per zone. EINVAL for a
 * malformed entry (from normalizeMemoryMap).
 */
export function summarizeMemoryMap(map: MemoryMap): MemoryMapSummary {
  // Normalising first validates every entry, so the raw sums below add up numbers only.
  const normalized = normalizeMemoryMap(map);

  const rawBytes = zeroTotals();
  for (const entry of map) rawBytes[entry.type] += entry.length;

  const cleanBytes = zeroTotals();
  const zones: Record<Zone, number> = { DMA: 0, DMA32: 0, NORMAL: 0 };
  let usableEnd = 0;
  for (const entry of normalized.map) {
    cleanBytes[entry.type] += entry.length;
    if (entry.type !== "usable") continue;
    const end = entry.base + entry.length;
    usableEnd = Math.max(usableEnd, end);
    zones.DMA += overlap(entry.base, end, 0, DEFAULT_ZONE_LIMITS.DMA);
    zones.DMA32 += overlap(entry.base, end, DEFAULT_ZONE_LIMITS.DMA, DEFAULT_ZONE_LIMITS.DMA32);
    zones.NORMAL += overlap(entry.base, end, DEFAULT_ZONE_LIMITS.DMA32, Infinity);
  }

  let allocatableBytes = 0;
  for (const range of usableRanges(map)) allocatableBytes += range.length;

  return {
    raw: { entryCount: map.length, bytesByType: rawBytes },
    normalized: {
      entryCount: normalized.map.length,
      bytesByType: cleanBytes,
      changes: normalized.changes,
    },
    usableBytesByZone: zones,
    allocatableBytes,
    usableEnd,
  };
}

function overlap(base: number, end: number, zoneBase: number, zoneEnd: number): number {
  return Math.max(0, Math.min(end, zoneEnd) - Math.max(base, zoneBase));
}

/** The summary as text: bytes per type (normalised, with the raw figure where it differs), zones. */
export function formatMemoryMapSummary(summary: MemoryMapSummary): string {
  const sized = (bytes: number): string => `${formatBytes(bytes)} (${bytes} bytes)`;
  const rows = MEMORY_TYPES_BY_RESTRICTIVENESS.filter(
    (type) => summary.raw.bytesByType[type] > 0 || summary.normalized.bytesByType[type] > 0,
  ).map((type) => {
    const clean = summary.normalized.bytesByType[type];
    const raw = summary.raw.bytesByType[type];
    return [type, sized(clean), raw === clean ? "" : `raw ${sized(raw)}`];
  });
  rows.push(
    ...ZONES.map((zone) => [`zone ${zone}`, sized(summary.usableBytesByZone[zone]), "usable"]),
  );
  rows.push(["allocatable", sized(summary.allocatableBytes), "usable, without frame 0"]);
  return formatTable(["type", "total", "note"], rows);
}
