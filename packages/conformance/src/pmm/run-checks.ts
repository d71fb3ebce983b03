import { PAGE_SIZE, hex } from "@allockit/core";
import type { FrameConstraints, Zone, ZoneLimits } from "@allockit/core";
import type { PmmHarness } from "./harness.js";
import { ZONE_PREFERENCE, clipSpans, coveredBy, overlaps, roundUpTo, zoneSpan } from "./spans.js";

/**
 * What the suite demands of one allocFrames answer: a run that satisfies the request exactly,
 * or a 0 that changed nothing and that the suite cannot prove wrong.
 */

/** A frame request reduced to numbers by the suite itself (not by core's FrameRequest). */
export interface ResolvedRequest {
  readonly count: number;
  readonly low: number;
  readonly high: number;
  readonly align: number;
  readonly boundary: number;
  readonly zone: Zone | undefined;
  readonly below: number | undefined;
  /** One frame without align or boundary: a 0 must mean no free frame fits at all. */
  readonly simple: boolean;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Reduces well-formed constraints to numbers, independently of core. */
export function resolveRequest(
  limits: ZoneLimits,
  count: number,
  constraints: FrameConstraints | undefined,
): ResolvedRequest {
  let low = 0;
  let high = Number.MAX_SAFE_INTEGER;
  const zone = constraints?.zone;
  if (zone !== undefined) ({ start: low, end: high } = zoneSpan(zone, limits));
  const below = constraints?.below;
  if (below !== undefined) high = Math.min(high, below);
  const align = Math.max(PAGE_SIZE, constraints?.align ?? PAGE_SIZE);
  const boundary = constraints?.boundary ?? 0;
  const simple = count === 1 && align === PAGE_SIZE && boundary === 0;
  return { count, low, high, align, boundary, zone, below, simple };
}

/** The first free frame satisfying a simple request, or undefined. */
function simpleWitness(
  harness: PmmHarness,
  req: ResolvedRequest,
  low = req.low,
  high = req.high,
): number | undefined {
  for (const span of clipSpans(harness.freeSpans(), low, high)) {
    if (span.start + PAGE_SIZE <= span.end) return span.start;
  }
  return undefined;
}

/** True when a simple request restricted to `zone` would find a free frame. */
function zoneHasFit(harness: PmmHarness, zone: Zone, req: ResolvedRequest): boolean {
  if (harness.expectedZoneFree(zone) === 0) return false;
  if (req.below === undefined) return true;
  const bounds = zoneSpan(zone, harness.limits);
  return (
    simpleWitness(harness, req, Math.max(bounds.start, req.low), Math.min(bounds.end, req.high)) !==
    undefined
  );
}

/**
 * The zone a simple request without a zone must be served from (the highest one with a
 * fitting free frame), or undefined when the rule does not apply or nothing fits.
 */
export function preferredZone(harness: PmmHarness, req: ResolvedRequest): Zone | undefined {
  // Zone fallback order applies to PMMs with zones only.
  if (!req.simple || req.zone !== undefined || !harness.profile.constraints.has("zone")) {
    return undefined;
  }
  return ZONE_PREFERENCE.find((zone) => zoneHasFit(harness, zone, req));
}

/** A 0 from allocFrames: nothing may have changed, and (where decidable) nothing fit. */
export function acceptZero(harness: PmmHarness, what: string, req: ResolvedRequest): void {
  const free = harness.readStats().freeFrames;
  if (free !== harness.expectedFree) {
    harness.fail(
      "out-of-memory",
      `${what} returned 0 (no memory) but stats().freeFrames is ${free}, not ${harness.expectedFree}: a 0 must change nothing (was frame 0 handed out as a run?)`,
    );
  }
  if (req.simple) {
    const witness = simpleWitness(harness, req);
    if (witness !== undefined) {
      harness.fail(
        "out-of-memory",
        `${what} returned 0 although frame ${hex(witness)} is free and satisfies the request`,
      );
    }
    return;
  }
  // A fully free, naturally aligned block as large as the run and its alignment: every
  // correct PMM (a buddy after coalescing, too) finds a run there.
  const block = nextPowerOfTwo(Math.max(req.count * PAGE_SIZE, req.align));
  if (block > harness.profile.maxContiguousFrames * PAGE_SIZE) return;
  for (const span of clipSpans(harness.freeSpans(), req.low, req.high)) {
    const start = roundUpTo(span.start, block);
    if (start + block <= span.end) {
      harness.fail(
        "out-of-memory",
        `${what} returned 0 although [${hex(start)}, ${hex(start + block)}) is free, naturally aligned and satisfies the request`,
      );
    }
  }
}

/** Everything a returned run must satisfy. */
export function validateRun(
  harness: PmmHarness,
  what: string,
  addr: number,
  req: ResolvedRequest,
): void {
  if (typeof addr !== "number" || !Number.isSafeInteger(addr) || addr < 0) {
    harness.fail("address", `${what} returned ${String(addr)}, which is not a physical address`);
  }
  if (addr % PAGE_SIZE !== 0) {
    harness.fail("alignment", `${what} returned ${hex(addr)}, which is not 4 KiB aligned`);
  }
  const end = addr + req.count * PAGE_SIZE;
  const range = `[${hex(addr)}, ${hex(end)})`;
  if (!coveredBy(harness.env.managed, addr, end)) {
    let frame = addr;
    while (frame < end && coveredBy(harness.env.managed, frame, frame + PAGE_SIZE))
      frame += PAGE_SIZE;
    harness.fail(
      "managed",
      `${what} returned ${range}, but frame ${hex(frame)} is ${harness.env.describeFrame(frame)}`,
    );
  }
  for (let frame = addr; frame < end; frame += PAGE_SIZE) {
    if (harness.isLiveFrame(frame)) {
      const owner = harness.live.find(
        (r) => frame >= r.start && frame < r.start + r.frames * PAGE_SIZE,
      );
      harness.fail(
        "overlap",
        `${what} returned ${range}, but frame ${hex(frame)} is still allocated in ${owner === undefined ? "a live run" : `${harness.describeRun(owner)} from ${owner.origin}`}: a frame handed out twice`,
      );
    }
  }
  const reserved = harness.reserved.find((span) => overlaps(span, { start: addr, end }));
  if (reserved !== undefined) {
    harness.fail(
      "overlap",
      `${what} returned ${range}, which overlaps [${hex(reserved.start)}, ${hex(reserved.end)}) taken out by reserve()`,
    );
  }
  if (req.zone !== undefined) {
    const bounds = zoneSpan(req.zone, harness.limits);
    if (addr < bounds.start || end > bounds.end) {
      harness.fail(
        "zone",
        `${what} returned ${range}, outside zone ${req.zone} [${hex(bounds.start)}, ${bounds.end === Number.MAX_SAFE_INTEGER ? "end" : hex(bounds.end)})`,
      );
    }
  }
  if (req.below !== undefined && end > req.below) {
    harness.fail("below", `${what} returned ${range}, which ends above below = ${hex(req.below)}`);
  }
  if (addr % req.align !== 0) {
    harness.fail(
      "align",
      `${what} returned ${hex(addr)}, which is not a multiple of ${hex(req.align)}`,
    );
  }
  if (
    req.boundary !== 0 &&
    Math.floor(addr / req.boundary) !== Math.floor((end - 1) / req.boundary)
  ) {
    harness.fail(
      "boundary",
      `${what} returned ${range}, which crosses ${hex(Math.floor((end - 1) / req.boundary) * req.boundary)}, a multiple of boundary ${hex(req.boundary)}`,
    );
  }
}
