import { PAGE_SIZE, isPowerOfTwo } from "./address.js";
import type { BootAllocator } from "./contracts/boot-allocator.js";
import type { MemoryMap, PhysRange } from "./contracts/memory-map.js";
import {
  DEFAULT_ZONE_LIMITS,
  ZONES,
  type FrameConstraints,
  type PmmCapabilities,
  type Zone,
} from "./contracts/pmm.js";
import { AllocatorError, describeValue } from "./errors.js";
import { usableRanges } from "./memory-map.js";
import { checkCount } from "./validate.js";

/**
 * What every page-frame allocator needs besides its algorithm: zone bounds, constraint
 * checking with the right errors, and the set of frames it manages.
 */

/** Upper ends of the DMA and DMA32 zones, in bytes (NORMAL is everything above DMA32). */
export interface ZoneLimits {
  DMA: number;
  DMA32: number;
}

/** `[low, high)` of a zone in bytes. */
export function zoneBounds(zone: Zone, limits: ZoneLimits = DEFAULT_ZONE_LIMITS): [number, number] {
  if (zone === "DMA") return [0, limits.DMA];
  if (zone === "DMA32") return [limits.DMA, limits.DMA32];
  return [limits.DMA32, Number.MAX_SAFE_INTEGER];
}

/** The zone a physical address is in. */
export function zoneOf(addr: number, limits: ZoneLimits = DEFAULT_ZONE_LIMITS): Zone {
  return addr < limits.DMA ? "DMA" : addr < limits.DMA32 ? "DMA32" : "NORMAL";
}

/** Checks zone limits given as options: DMA < DMA32, both page-aligned. */
export function checkZoneLimits(limits: ZoneLimits): ZoneLimits {
  if (
    !Number.isSafeInteger(limits.DMA) ||
    !Number.isSafeInteger(limits.DMA32) ||
    limits.DMA <= 0 ||
    limits.DMA >= limits.DMA32 ||
    limits.DMA % PAGE_SIZE !== 0 ||
    limits.DMA32 % PAGE_SIZE !== 0
  ) {
    throw new AllocatorError(
      "EINVAL",
      `zone limits ${describeValue(limits)} must be page-aligned with 0 < DMA < DMA32`,
      limits,
    );
  }
  return limits;
}

/**
 * A frame request with its constraints checked and reduced to numbers: the run of `count`
 * frames must lie in `[low, high)`, start at a multiple of `align` bytes, and not cross a
 * multiple of `boundary` bytes (0 = no boundary). Reused across calls: no allocation.
 */
export class FrameRequest {
  count = 1;
  low = 0;
  high = Number.MAX_SAFE_INTEGER;
  align = PAGE_SIZE;
  boundary = 0;
  /** The zone asked for, or undefined for "any, preferring the highest". */
  zone: Zone | undefined = undefined;

  /** True when the run `[start, start + count frames)` satisfies the request. */
  fits(start: number): boolean {
    const end = start + this.count * PAGE_SIZE;
    if (start < this.low || end > this.high || start % this.align !== 0) return false;
    return (
      this.boundary === 0 ||
      Math.floor(start / this.boundary) === Math.floor((end - 1) / this.boundary)
    );
  }
}

const CONSTRAINT_NAMES: ReadonlySet<string> = new Set(["zone", "below", "align", "boundary"]);

/**
 * Checks `count` and `constraints` against what the PMM declares, and fills `into`. Malformed
 * values raise EINVAL naming them; a constraint (or a contiguous run) the PMM does not declare
 * raises EUNSUPPORTED: never silently ignored.
 */
export function resolveFrameRequest(
  pmmName: string,
  capabilities: PmmCapabilities,
  count: number,
  constraints: FrameConstraints | undefined,
  limits: ZoneLimits,
  into: FrameRequest,
): FrameRequest {
  checkCount(count, "frame count");
  if (count > 1 && !capabilities.contiguous) {
    throw new AllocatorError(
      "EUNSUPPORTED",
      `${pmmName} does not hand out contiguous runs (count ${count})`,
      count,
    );
  }
  if (count > capabilities.maxContiguousFrames) {
    throw new AllocatorError(
      "EUNSUPPORTED",
      `${pmmName} hands out runs of at most ${capabilities.maxContiguousFrames} frames, not ${count}`,
      count,
    );
  }
  into.count = count;
  into.low = 0;
  into.high = Number.MAX_SAFE_INTEGER;
  into.align = PAGE_SIZE;
  into.boundary = 0;
  into.zone = undefined;
  if (constraints === undefined) return into;
  if (typeof constraints !== "object" || constraints === null) {
    throw new AllocatorError(
      "EINVAL",
      `constraints ${describeValue(constraints)} is not an object`,
      constraints,
    );
  }
  // for...in and a module-level set: no arrays made per call on the allocFrames path.
  for (const name in constraints) {
    const key = name as keyof FrameConstraints;
    if (constraints[key] === undefined) continue;
    if (!CONSTRAINT_NAMES.has(key)) {
      throw new AllocatorError("EINVAL", `unknown frame constraint ${JSON.stringify(key)}`, key);
    }
    if (!capabilities.constraints.has(key)) {
      throw new AllocatorError(
        "EUNSUPPORTED",
        `${pmmName} does not honour the ${key} constraint (${key}: ${describeValue(constraints[key])})`,
        constraints[key],
      );
    }
  }
  const { zone, below, align, boundary } = constraints;
  if (zone !== undefined) {
    if (!ZONES.includes(zone))
      throw new AllocatorError(
        "EINVAL",
        `zone ${describeValue(zone)} is not DMA, DMA32 or NORMAL`,
        zone,
      );
    [into.low, into.high] = zoneBounds(zone, limits);
    into.zone = zone;
  }
  if (below !== undefined) {
    if (!Number.isSafeInteger(below) || below <= 0) {
      throw new AllocatorError(
        "EINVAL",
        `below ${describeValue(below)} is not a positive address`,
        below,
      );
    }
    into.high = Math.min(into.high, below);
  }
  if (align !== undefined) {
    if (!isPowerOfTwo(align))
      throw new AllocatorError(
        "EINVAL",
        `align ${describeValue(align)} is not a power of two`,
        align,
      );
    into.align = Math.max(PAGE_SIZE, align);
  }
  if (boundary !== undefined) {
    if (!isPowerOfTwo(boundary)) {
      throw new AllocatorError(
        "EINVAL",
        `boundary ${describeValue(boundary)} is not a power of two`,
        boundary,
      );
    }
    if (boundary < count * PAGE_SIZE) {
      throw new AllocatorError(
        "EINVAL",
        `boundary ${describeValue(boundary)} is smaller than the run of ${count} frames`,
        boundary,
      );
    }
    into.boundary = boundary;
  }
  return into;
}

/**
 * The frames a PMM manages: usable RAM of the (normalised) map, page-aligned, minus frame 0,
 * the kernel image and modules (`boot.reserved()`) and everything the boot allocator handed
 * out (`boot.allocated()`, its own metadata included).
 */
export function managedRanges(map: MemoryMap, boot: BootAllocator): PhysRange[] {
  return usableRanges(map, [...boot.reserved(), ...boot.allocated()]);
}

/** Total frames in a list of page-aligned ranges. */
export function countFrames(ranges: readonly PhysRange[]): number {
  let frames = 0;
  for (const r of ranges) frames += r.length / PAGE_SIZE;
  return frames;
}

/** Frames of `ranges` per zone. */
export function framesPerZone(
  ranges: readonly PhysRange[],
  limits: ZoneLimits = DEFAULT_ZONE_LIMITS,
): Record<Zone, number> {
  const out: Record<Zone, number> = { DMA: 0, DMA32: 0, NORMAL: 0 };
  for (const zone of ZONES) {
    const [low, high] = zoneBounds(zone, limits);
    for (const r of ranges) {
      const from = Math.max(r.base, low);
      const to = Math.min(r.base + r.length, high);
      if (to > from) out[zone] += (to - from) / PAGE_SIZE;
    }
  }
  return out;
}
