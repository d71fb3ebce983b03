import { PAGE_SIZE, PHYS_ADDR_LIMIT, hex, pageRoundDown, pageRoundUp } from "./address.js";
import type { MemoryMap, MemoryMapEntry, MemoryType, PhysRange } from "./contracts/memory-map.js";
import { AllocatorError, describeValue } from "./errors.js";

/**
 * The memory-map algebra: E820 type numbers, normalisation of untidy firmware maps, and range
 * arithmetic (subtract, intersect, merge) over physical ranges.
 *
 * Addresses reach 2^52, so everything here is plain integer-valued number math: no 32-bit
 * bit operations on addresses.
 */

// ---- E820 type numbers ----

const TYPE_BY_E820: ReadonlyMap<number, MemoryType> = new Map<number, MemoryType>([
  [1, "usable"],
  [2, "reserved"],
  [3, "acpi-reclaimable"],
  [4, "acpi-nvs"],
  [5, "bad"],
]);

const E820_BY_TYPE: Readonly<Record<Exclude<MemoryType, "unknown">, number>> = {
  usable: 1,
  reserved: 2,
  "acpi-reclaimable": 3,
  "acpi-nvs": 4,
  bad: 5,
};

/** E820 type fields are 32-bit. */
const E820_TYPE_LIMIT = 2 ** 32;

function isE820TypeNumber(raw: unknown): raw is number {
  return typeof raw === "number" && Number.isInteger(raw) && raw >= 0 && raw < E820_TYPE_LIMIT;
}

/**
 * The memory type of an E820 type number: 1 usable, 2 reserved, 3 acpi-reclaimable, 4 acpi-nvs,
 * 5 bad; every other number is "unknown" (keep `raw` beside it). EINVAL unless `raw` is a 32-bit
 * unsigned integer.
 */
export function memoryTypeFromE820(raw: number): MemoryType {
  if (!isE820TypeNumber(raw)) {
    throw new AllocatorError(
      "EINVAL",
      `E820 type ${describeValue(raw)} is not a 32-bit unsigned integer`,
      raw,
    );
  }
  return TYPE_BY_E820.get(raw) ?? "unknown";
}

/**
 * The E820 type number of an entry: the standard number for the five known types, `raw` for
 * "unknown". An unknown entry without `raw` has no number to give back: EINVAL.
 */
export function e820TypeNumber(entry: MemoryMapEntry): number {
  if (entry.type !== "unknown") {
    const known = E820_BY_TYPE[entry.type];
    if (known === undefined) {
      throw new AllocatorError(
        "EINVAL",
        `memory type ${describeValue(entry.type)} is not a memory type`,
        entry.type,
      );
    }
    return known;
  }
  if (!isE820TypeNumber(entry.raw)) {
    throw new AllocatorError(
      "EINVAL",
      `unknown memory-map entry at ${hex(entry.base)} has no E820 type number (raw ${describeValue(entry.raw)})`,
      entry.raw,
    );
  }
  return entry.raw;
}

// ---- restrictiveness ----

/** Least to most restrictive: where entries overlap, the later one in this list wins. */
export const MEMORY_TYPES_BY_RESTRICTIVENESS: readonly MemoryType[] = [
  "usable",
  "acpi-reclaimable",
  "acpi-nvs",
  "reserved",
  "unknown",
  "bad",
];

const RANK: ReadonlyMap<MemoryType, number> = new Map(
  MEMORY_TYPES_BY_RESTRICTIVENESS.map((type, rank) => [type, rank]),
);

/**
 * Compares two (type, raw) pairs by restrictiveness: negative when `a` is less restrictive. Two
 * unknown types are ordered by raw number (a missing raw lowest), so the outcome of an overlap
 * never depends on the order of the entries in the input.
 */
export function compareRestrictiveness(
  a: { type: MemoryType; raw?: number },
  b: { type: MemoryType; raw?: number },
): number {
  const byRank = (RANK.get(a.type) ?? 0) - (RANK.get(b.type) ?? 0);
  if (byRank !== 0 || a.type !== "unknown") return byRank;
  return (a.raw ?? -1) - (b.raw ?? -1);
}

// ---- normalisation ----

/** What normalisation did, in readable words, alongside the clean map. */
export interface NormalizedMemoryMap {
  map: MemoryMapEntry[];
  changes: string[];
}

/** A validated entry; `raw` is kept only for unknown types, where it is the identity. */
interface CheckedEntry {
  base: number;
  end: number;
  type: MemoryType;
  raw: number | undefined;
  /** "usable", "reserved", "unknown:7": entries with equal keys merge. */
  key: string;
}

function typeKey(type: MemoryType, raw: number | undefined): string {
  return type === "unknown" ? `unknown:${raw ?? ""}` : type;
}

function describeType(type: MemoryType, raw: number | undefined): string {
  if (type !== "unknown") return type;
  return raw === undefined ? "unknown" : `unknown type ${raw}`;
}

function describeSpan(base: number, end: number): string {
  return `${hex(base)}..${hex(end)}`;
}

function describeEntry(entry: {
  base: number;
  end: number;
  type: MemoryType;
  raw: number | undefined;
}): string {
  return `${describeType(entry.type, entry.raw)} ${describeSpan(entry.base, entry.end)}`;
}

/** Throws EINVAL unless base and length make a range inside the physical address space. */
function checkSpan(base: unknown, length: unknown, what: string): void {
  if (typeof base !== "number" || !Number.isSafeInteger(base) || base < 0) {
    throw new AllocatorError(
      "EINVAL",
      `${what}: base ${describeValue(base)} is not a non-negative safe integer`,
      base,
    );
  }
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
    throw new AllocatorError(
      "EINVAL",
      `${what}: length ${describeValue(length)} is not a non-negative safe integer`,
      length,
    );
  }
  // Compared as a difference so the test stays exact near 2^53.
  if (base > PHYS_ADDR_LIMIT || length > PHYS_ADDR_LIMIT - base) {
    throw new AllocatorError(
      "EINVAL",
      `${what}: base ${hex(base)} + length ${hex(length)} goes past the physical address limit 2^52`,
      length,
    );
  }
}

function checkEntry(entry: unknown, index: number): CheckedEntry {
  const what = `memory map entry ${index}`;
  if (typeof entry !== "object" || entry === null) {
    throw new AllocatorError("EINVAL", `${what} ${describeValue(entry)} is not an object`, entry);
  }
  const { base, length, type, raw } = entry as Partial<MemoryMapEntry>;
  checkSpan(base, length, what);
  if (typeof type !== "string" || !RANK.has(type as MemoryType)) {
    throw new AllocatorError(
      "EINVAL",
      `${what}: type ${describeValue(type)} is not a memory type`,
      type,
    );
  }
  if (raw !== undefined && !isE820TypeNumber(raw)) {
    throw new AllocatorError(
      "EINVAL",
      `${what}: raw type ${describeValue(raw)} is not a 32-bit unsigned integer`,
      raw,
    );
  }
  const keptRaw = type === "unknown" ? raw : undefined;
  const start = base as number;
  return {
    base: start,
    end: start + (length as number),
    type,
    raw: keptRaw,
    key: typeKey(type, keptRaw),
  };
}

/**
 * Cleans a firmware memory map, reporting each cleaning in `changes` (addresses in hex, spans
 * written base..end with the end exclusive). The input is not modified.
 *
 * 1. drops zero-length entries;
 * 2. sorts by base;
 * 3. resolves overlaps: each byte keeps the most restrictive type that covered it
 *    (usable < acpi-reclaimable < acpi-nvs < reserved < unknown < bad; between two unknown
 *    types the larger raw number);
 * 4. merges adjacent entries of the same type (same raw for unknown);
 * 5. shrinks usable entries inward to whole pages, dropping those left empty.
 *
 * The result is sorted and disjoint, with no two touching entries of the same type. `raw` is
 * kept on unknown entries only: for the five known types it follows from the type.
 * Throws EINVAL for an entry whose base or length is not a non-negative safe integer, that
 * goes past 2^52, or whose type is not a memory type.
 */
export function normalizeMemoryMap(map: MemoryMap): NormalizedMemoryMap {
  if (!Array.isArray(map)) {
    throw new AllocatorError("EINVAL", `memory map ${describeValue(map)} is not an array`, map);
  }
  const changes: string[] = [];
  const checked = map.map(checkEntry);

  const entries: CheckedEntry[] = [];
  for (const entry of checked) {
    if (entry.base === entry.end) {
      changes.push(
        `dropped zero-length ${describeType(entry.type, entry.raw)} entry at ${hex(entry.base)}`,
      );
    } else {
      entries.push(entry);
    }
  }

  // Array.prototype.sort is stable, so equal bases keep their input order.
  const wasSorted = entries.every((entry, i) => i === 0 || entries[i - 1]!.base <= entry.base);
  entries.sort((a, b) => a.base - b.base);
  if (!wasSorted) changes.push(`sorted ${entries.length} entries by base address`);

  reportOverlaps(entries, changes);
  const resolved = resolveOverlaps(entries);
  reportAdjacentMerges(entries, resolved, changes);

  const result: MemoryMapEntry[] = [];
  for (const piece of resolved) {
    if (piece.type !== "usable") {
      result.push(toMapEntry(piece.base, piece.end, piece.type, piece.raw));
      continue;
    }
    // Only whole pages can be handed out, so partial pages at the edges are not usable RAM.
    const base = pageRoundUp(piece.base);
    const end = pageRoundDown(piece.end);
    if (end <= base) {
      changes.push(
        `dropped usable ${describeSpan(piece.base, piece.end)}: no whole page inside it`,
      );
      continue;
    }
    if (base !== piece.base || end !== piece.end) {
      changes.push(
        `usable ${describeSpan(piece.base, piece.end)} aligned inward to whole pages ${describeSpan(base, end)}`,
      );
    }
    result.push(toMapEntry(base, end, "usable", undefined));
  }
  return { map: result, changes };
}

function toMapEntry(
  base: number,
  end: number,
  type: MemoryType,
  raw: number | undefined,
): MemoryMapEntry {
  return raw === undefined
    ? { base, length: end - base, type }
    : { base, length: end - base, type, raw };
}

/** Reports every overlapping pair, saying which type wins. `entries` is sorted by base. */
function reportOverlaps(entries: readonly CheckedEntry[], changes: string[]): void {
  for (let i = 0; i < entries.length; i++) {
    const first = entries[i]!;
    for (let j = i + 1; j < entries.length && entries[j]!.base < first.end; j++) {
      const second = entries[j]!;
      const order = compareRestrictiveness(first, second);
      let outcome: string;
      if (first.key === second.key) outcome = "merged";
      else if (order > 0) outcome = `${describeType(first.type, first.raw)} wins`;
      else outcome = `${describeType(second.type, second.raw)} wins`;
      changes.push(`${describeEntry(first)} overlaps ${describeEntry(second)}: ${outcome}`);
    }
  }
}

interface ResolvedPiece {
  base: number;
  end: number;
  type: MemoryType;
  raw: number | undefined;
  key: string;
}

/**
 * Sweeps the boundaries of all entries; between two boundaries the most restrictive active
 * entry decides the type. Pieces of equal type that touch are merged. O(n log n) plus the
 * number of distinct types per step, which is small.
 */
function resolveOverlaps(entries: readonly CheckedEntry[]): ResolvedPiece[] {
  const events: { at: number; delta: 1 | -1; entry: CheckedEntry }[] = [];
  for (const entry of entries) {
    events.push({ at: entry.base, delta: 1, entry }, { at: entry.end, delta: -1, entry });
  }
  events.sort((a, b) => a.at - b.at);

  // Active entries counted per type key; the representative carries type and raw.
  const active = new Map<string, { count: number; entry: CheckedEntry }>();
  const pieces: ResolvedPiece[] = [];
  let i = 0;
  while (i < events.length) {
    const at = events[i]!.at;
    for (; i < events.length && events[i]!.at === at; i++) {
      const { delta, entry } = events[i]!;
      const slot = active.get(entry.key);
      const count = (slot?.count ?? 0) + delta;
      if (count === 0) active.delete(entry.key);
      else active.set(entry.key, { count, entry: slot?.entry ?? entry });
    }
    if (i === events.length || active.size === 0) continue;
    let winner: CheckedEntry | undefined;
    for (const { entry } of active.values()) {
      if (winner === undefined || compareRestrictiveness(entry, winner) > 0) winner = entry;
    }
    const next = events[i]!.at;
    const last = pieces[pieces.length - 1];
    if (last !== undefined && last.end === at && last.key === winner!.key) {
      last.end = next;
    } else {
      pieces.push({ base: at, end: next, type: winner!.type, raw: winner!.raw, key: winner!.key });
    }
  }
  return pieces;
}

/**
 * Reports input entries that touch end-to-base and ended up inside one resolved piece, i.e.
 * whose boundary disappeared (a more restrictive entry over the boundary keeps them apart).
 */
function reportAdjacentMerges(
  entries: readonly CheckedEntry[],
  pieces: readonly ResolvedPiece[],
  changes: string[],
): void {
  const byBase = new Map<number, CheckedEntry[]>();
  for (const entry of entries) {
    const list = byBase.get(entry.base);
    if (list === undefined) byBase.set(entry.base, [entry]);
    else list.push(entry);
  }
  for (const first of entries) {
    for (const second of byBase.get(first.end) ?? []) {
      if (second.key !== first.key) continue;
      const piece = findPieceContaining(pieces, first.end);
      if (piece !== undefined && piece.key === first.key && piece.base < first.end) {
        changes.push(
          `merged adjacent ${describeType(first.type, first.raw)} entries ` +
            `${describeSpan(first.base, first.end)} and ${describeSpan(second.base, second.end)}`,
        );
      }
    }
  }
}

/** The piece with base <= address < end, by binary search over sorted disjoint pieces. */
function findPieceContaining(
  pieces: readonly ResolvedPiece[],
  address: number,
): ResolvedPiece | undefined {
  let low = 0;
  let high = pieces.length - 1;
  while (low <= high) {
    const middle = Math.floor((low + high) / 2);
    const piece = pieces[middle]!;
    if (address < piece.base) high = middle - 1;
    else if (address >= piece.end) low = middle + 1;
    else return piece;
  }
  return undefined;
}

// ---- range algebra ----

function checkRanges(ranges: readonly PhysRange[], what: string): void {
  if (!Array.isArray(ranges)) {
    throw new AllocatorError(
      "EINVAL",
      `${what} list ${describeValue(ranges)} is not an array`,
      ranges,
    );
  }
  ranges.forEach((range, index) => {
    const label = `${what} ${index}${range?.name !== undefined ? ` (${JSON.stringify(range.name)})` : ""}`;
    if (typeof range !== "object" || range === null) {
      throw new AllocatorError("EINVAL", `${label} ${describeValue(range)} is not a range`, range);
    }
    checkSpan(range.base, range.length, label);
  });
}

function rangeOf(base: number, end: number, name: string | undefined): PhysRange {
  return name === undefined ? { base, length: end - base } : { base, length: end - base, name };
}

/**
 * Sorted, disjoint, non-touching union of `ranges`; zero-length ranges vanish. A merged range
 * keeps a name only when all of its parts had that same name. EINVAL for a malformed range.
 */
export function mergeRanges(ranges: readonly PhysRange[]): PhysRange[] {
  checkRanges(ranges, "range");
  return mergeChecked(ranges);
}

function mergeChecked(ranges: readonly PhysRange[]): PhysRange[] {
  const sorted = ranges.filter((range) => range.length > 0).sort((a, b) => a.base - b.base);
  const merged: { base: number; end: number; name: string | undefined }[] = [];
  for (const range of sorted) {
    const end = range.base + range.length;
    const last = merged[merged.length - 1];
    if (last !== undefined && range.base <= last.end) {
      last.end = Math.max(last.end, end);
      if (last.name !== range.name) last.name = undefined;
    } else {
      merged.push({ base: range.base, end, name: range.name });
    }
  }
  return merged.map((range) => rangeOf(range.base, range.end, range.name));
}

/**
 * The parts of `ranges` outside every hole, sorted and disjoint. Pieces keep the name of the
 * (merged) range they came from. EINVAL for a malformed range or hole.
 */
export function subtractRanges(
  ranges: readonly PhysRange[],
  holes: readonly PhysRange[],
): PhysRange[] {
  checkRanges(ranges, "range");
  checkRanges(holes, "hole");
  return subtractChecked(mergeChecked(ranges), mergeChecked(holes));
}

/** Both arguments merged (sorted, disjoint): one forward pass over each. */
function subtractChecked(ranges: readonly PhysRange[], holes: readonly PhysRange[]): PhysRange[] {
  const result: PhysRange[] = [];
  let h = 0;
  for (const range of ranges) {
    let cursor = range.base;
    const end = range.base + range.length;
    while (h < holes.length && holes[h]!.base + holes[h]!.length <= cursor) h++;
    // Holes are disjoint and sorted, so the ones overlapping this range are consecutive from h.
    for (let k = h; k < holes.length && holes[k]!.base < end; k++) {
      const hole = holes[k]!;
      if (hole.base > cursor) result.push(rangeOf(cursor, hole.base, range.name));
      cursor = Math.max(cursor, hole.base + hole.length);
    }
    if (cursor < end) result.push(rangeOf(cursor, end, range.name));
  }
  return result;
}

/**
 * The parts covered by both `a` and `b`, sorted and disjoint; pieces keep the name from `a`.
 * EINVAL for a malformed range.
 */
export function intersectRanges(a: readonly PhysRange[], b: readonly PhysRange[]): PhysRange[] {
  checkRanges(a, "range");
  checkRanges(b, "range");
  const left = mergeChecked(a);
  const right = mergeChecked(b);
  const result: PhysRange[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    const x = left[i]!;
    const y = right[j]!;
    const xEnd = x.base + x.length;
    const yEnd = y.base + y.length;
    const base = Math.max(x.base, y.base);
    const end = Math.min(xEnd, yEnd);
    if (base < end) result.push(rangeOf(base, end, x.name));
    if (xEnd <= yEnd) i++;
    else j++;
  }
  return result;
}

/** Frame 0 is never handed out, so that address 0 can mean failure (as Linux does). */
const FRAME_ZERO: PhysRange = { base: 0, length: PAGE_SIZE, name: "frame 0" };

/**
 * The RAM an allocator may hand out: usable entries of the normalised map (whole pages), minus
 * every reserved range rounded outward to whole pages, minus frame 0. Sorted, disjoint,
 * page-aligned. A zero-length reserved range reserves nothing. EINVAL for a malformed map entry
 * or reserved range.
 */
export function usableRanges(map: MemoryMap, reserved: readonly PhysRange[] = []): PhysRange[] {
  checkRanges(reserved, "reserved range");
  const usable = normalizeMemoryMap(map)
    .map.filter((entry) => entry.type === "usable")
    .map((entry) => rangeOf(entry.base, entry.base + entry.length, undefined));
  const holes = reserved
    .filter((range) => range.length > 0)
    .map((range) =>
      rangeOf(pageRoundDown(range.base), pageRoundUp(range.base + range.length), range.name),
    );
  holes.push(FRAME_ZERO);
  return subtractChecked(usable, mergeChecked(holes));
}

/**
 * Bytes of `type` in the normalised map, so overlapping entries are not counted twice and
 * usable RAM counts whole pages only. EINVAL for a malformed entry.
 */
export function totalBytes(map: MemoryMap, type: MemoryType = "usable"): number {
  if (!RANK.has(type)) {
    throw new AllocatorError("EINVAL", `type ${describeValue(type)} is not a memory type`, type);
  }
  let total = 0;
  for (const entry of normalizeMemoryMap(map).map) {
    if (entry.type === type) total += entry.length;
  }
  return total;
}
