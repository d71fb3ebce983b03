import { PAGE_SIZE } from "@allockit/core";
import type { Zone, ZoneLimits } from "@allockit/core";

/**
 * Half-open byte spans `[start, end)` and the little arithmetic the suite needs on them. Kept
 * apart from core's range algebra on purpose: the suite's expectations must not be computed by
 * the same code a PMM under test probably calls (managedRanges, usableRanges).
 */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export const ZONE_ORDER: readonly Zone[] = ["DMA", "DMA32", "NORMAL"];
/** Zones from most to least preferred for a request without a zone (NORMAL first). */
export const ZONE_PREFERENCE: readonly Zone[] = ["NORMAL", "DMA32", "DMA"];

export function pageDown(value: number): number {
  return value - (value % PAGE_SIZE);
}

export function pageUp(value: number): number {
  const rest = value % PAGE_SIZE;
  return rest === 0 ? value : value + PAGE_SIZE - rest;
}

export function roundUpTo(value: number, align: number): number {
  const rest = value % align;
  return rest === 0 ? value : value + align - rest;
}

/** `[low, high)` of a zone under `limits`. */
export function zoneSpan(zone: Zone, limits: ZoneLimits): Span {
  if (zone === "DMA") return { start: 0, end: limits.DMA };
  if (zone === "DMA32") return { start: limits.DMA, end: limits.DMA32 };
  return { start: limits.DMA32, end: Number.MAX_SAFE_INTEGER };
}

/** Sorted, disjoint, non-touching union; empty spans vanish. */
export function unionSpans(spans: readonly Span[]): Span[] {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const span of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && span.start <= last.end) last.end = Math.max(last.end, span.end);
    else out.push({ start: span.start, end: span.end });
  }
  return out;
}

/** `spans` minus every hole; both may be unsorted and overlapping. */
export function subtractSpans(spans: readonly Span[], holes: readonly Span[]): Span[] {
  const cut = unionSpans(holes);
  const out: Span[] = [];
  for (const span of unionSpans(spans)) {
    let cursor = span.start;
    for (const hole of cut) {
      if (hole.end <= cursor) continue;
      if (hole.start >= span.end) break;
      if (hole.start > cursor) out.push({ start: cursor, end: hole.start });
      cursor = Math.max(cursor, hole.end);
    }
    if (cursor < span.end) out.push({ start: cursor, end: span.end });
  }
  return out;
}

/** The parts of sorted disjoint `spans` inside `[low, high)`. */
export function clipSpans(spans: readonly Span[], low: number, high: number): Span[] {
  const out: Span[] = [];
  for (const span of spans) {
    const start = Math.max(span.start, low);
    const end = Math.min(span.end, high);
    if (end > start) out.push({ start, end });
  }
  return out;
}

/** Whole 4 KiB frames in page-aligned spans. */
export function spanFrames(spans: readonly Span[]): number {
  let frames = 0;
  for (const span of spans) frames += (span.end - span.start) / PAGE_SIZE;
  return frames;
}

/** Frames of page-aligned spans per zone. */
export function framesByZone(spans: readonly Span[], limits: ZoneLimits): Record<Zone, number> {
  const out: Record<Zone, number> = { DMA: 0, DMA32: 0, NORMAL: 0 };
  for (const zone of ZONE_ORDER) {
    const bounds = zoneSpan(zone, limits);
    out[zone] = spanFrames(clipSpans(spans, bounds.start, bounds.end));
  }
  return out;
}

/** The span of sorted disjoint `spans` holding `addr`, by binary search. */
export function spanAt(spans: readonly Span[], addr: number): Span | undefined {
  let low = 0;
  let high = spans.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const span = spans[middle]!;
    if (addr < span.start) high = middle - 1;
    else if (addr >= span.end) low = middle + 1;
    else return span;
  }
  return undefined;
}

/** True when `[start, end)` lies inside one span of sorted disjoint `spans`. */
export function coveredBy(spans: readonly Span[], start: number, end: number): boolean {
  const span = spanAt(spans, start);
  return span !== undefined && end <= span.end;
}

/** True when the two spans share a byte. */
export function overlaps(a: Span, b: Span): boolean {
  return a.start < b.end && b.start < a.end;
}

/** The zone holding physical address `addr`. */
export function zoneOfAddress(limits: ZoneLimits, addr: number): Zone {
  return addr < limits.DMA ? "DMA" : addr < limits.DMA32 ? "DMA32" : "NORMAL";
}
