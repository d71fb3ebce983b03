import { AllocatorError } from "@allockit/core";
import { describeFrame } from "./free-stacks.js";
import type { PmmState } from "./state.js";
import { ZONE_COUNT, ZONE_DMA, zoneName } from "./zones.js";

/**
 * The audit behind `check()`. Every managed frame must be in exactly one state: allocated
 * (bit 1), on its zone's stack, or untouched (at or above its region's watermark). So:
 *
 * 1. the region table is sorted, disjoint, within zones and the bitmap, and its sums match the
 *    per-zone totals and untouched counts kept in JS;
 * 2. no bit is set at or above a watermark; the set bits below them are the allocated frames;
 * 3. every frame on a stack is managed, of the stack's zone, below its watermark, not allocated
 *    and listed once: the walk sets each one's bit as it goes (a frame met again finds its bit
 *    set) and clears them all afterwards, so the bitmap serves as the "seen" set;
 * 4. per zone, allocated + stacked + untouched = total, so no free frame is missing either.
 */
export function checkConsistency(state: PmmState): void {
  checkRegions(state);
  const allocated = countAllocated(state);
  for (let zone = ZONE_DMA; zone < ZONE_COUNT; zone++) {
    const stacked = checkStack(state, zone);
    const total = state.totalFrames[zone]!;
    const untouched = state.untouchedFrames[zone]!;
    if (allocated[zone]! + stacked + untouched !== total) {
      throw corrupt(
        `${zoneName(zone)}: ${allocated[zone]} allocated + ${stacked} stacked + ${untouched} untouched frames != ${total} managed`,
        zone,
      );
    }
  }
}

function checkRegions(state: PmmState): void {
  const { regions, zones, bitmap } = state;
  if (regions.count < 0 || regions.count > regions.capacity) {
    throw corrupt(`region count ${regions.count} is outside 0..${regions.capacity}`, regions.count);
  }
  const totals = new Float64Array(ZONE_COUNT);
  const untouched = new Float64Array(ZONE_COUNT);
  let previousEnd = 1; // frame 0 is never managed
  let previousBitEnd = 0;
  for (let index = 0; index < regions.count; index++) {
    const base = regions.base(index);
    const end = regions.end(index);
    const watermark = regions.watermark(index);
    const bitBase = regions.bitBase(index);
    const what = `region ${index} [${describeFrame(base)}, ${describeFrame(end)})`;
    if (!(base >= previousEnd && base < end && Number.isSafeInteger(end))) {
      throw corrupt(`${what} is empty, out of order or overlaps the one before`, index);
    }
    if (!(watermark >= base && watermark <= end)) {
      throw corrupt(`${what} has its watermark ${describeFrame(watermark)} outside it`, index);
    }
    const zone = zones.zoneOfFrame(base);
    if (zones.zoneOfFrame(end - 1) !== zone) throw corrupt(`${what} crosses a zone limit`, index);
    if (!(bitBase >= previousBitEnd && bitBase + (end - base) <= bitmap.bits)) {
      throw corrupt(
        `${what} has bitmap bits from ${bitBase} overlapping another region or past ${bitmap.bits}`,
        index,
      );
    }
    if (index < state.fillRegion[zone]! && watermark !== end) {
      throw corrupt(
        `${what} has untouched frames but the ${zoneName(zone)} fill hint is past it`,
        index,
      );
    }
    totals[zone]! += end - base;
    untouched[zone]! += end - watermark;
    previousEnd = end;
    previousBitEnd = bitBase + (end - base);
  }
  for (let zone = ZONE_DMA; zone < ZONE_COUNT; zone++) {
    if (
      totals[zone] !== state.totalFrames[zone] ||
      untouched[zone] !== state.untouchedFrames[zone]
    ) {
      throw corrupt(
        `${zoneName(zone)}: the regions hold ${totals[zone]} frames, ${untouched[zone]} untouched; ` +
          `counted ${state.totalFrames[zone]} and ${state.untouchedFrames[zone]}`,
        zone,
      );
    }
  }
}

/** Allocated frames per zone; ECORRUPT for a bit set at or above a watermark. */
function countAllocated(state: PmmState): Float64Array {
  const { regions, bitmap, zones } = state;
  const allocated = new Float64Array(ZONE_COUNT);
  for (let index = 0; index < regions.count; index++) {
    const base = regions.base(index);
    const bitBase = regions.bitBase(index);
    const watermarkBit = bitBase + (regions.watermark(index) - base);
    const endBit = bitBase + (regions.end(index) - base);
    const stray = bitmap.firstSet(watermarkBit, endBit);
    if (stray >= 0) {
      throw corrupt(
        `${describeFrame(base + (stray - bitBase))} is above the watermark of region ${index} but marked allocated`,
        stray,
      );
    }
    allocated[zones.zoneOfFrame(base)]! += bitmap.countSet(bitBase, watermarkBit);
  }
  return allocated;
}

/** Walks the stack of `zone` (see step 3); returns the frames on it. */
function checkStack(state: PmmState, zone: number): number {
  const { regions, bitmap, stacks } = state;
  let marked = 0;
  try {
    const visited = stacks.walk(zone, (frame) => {
      const index = regions.indexOf(frame);
      if (index < 0 || state.zones.zoneOfFrame(frame) !== zone) {
        throw corrupt(
          `${zoneName(zone)} free stack holds ${describeFrame(frame)}, which is not managed RAM of the zone`,
          frame,
        );
      }
      if (frame >= regions.watermark(index)) {
        throw corrupt(
          `${zoneName(zone)} free stack holds untouched ${describeFrame(frame)}`,
          frame,
        );
      }
      const bit = regions.bitBase(index) + (frame - regions.base(index));
      if (bitmap.isSet(bit)) {
        throw corrupt(
          `${zoneName(zone)} free stack holds ${describeFrame(frame)}, which is allocated or listed twice`,
          frame,
        );
      }
      bitmap.set(bit);
      marked++;
      return true;
    });
    if (visited !== stacks.frames[zone]) {
      throw corrupt(
        `${zoneName(zone)} free stack holds ${visited} frames, counted ${stacks.frames[zone]}`,
        visited,
      );
    }
    return visited;
  } finally {
    unmark(state, zone, marked);
  }
}

/** Clears the bits the walk set: the same walk, over its first `marked` frames. */
function unmark(state: PmmState, zone: number, marked: number): void {
  let cleared = 0;
  try {
    state.stacks.walk(zone, (frame) => {
      if (cleared === marked) return false;
      state.bitmap.clear(state.regions.bitOf(frame, zone));
      cleared++;
      return true;
    });
  } catch {
    // The first walk already reported what is broken; these frames were all vetted by it.
  }
}

function corrupt(message: string, value: unknown): AllocatorError {
  return new AllocatorError("ECORRUPT", `pmm-stack check: ${message}`, value);
}
