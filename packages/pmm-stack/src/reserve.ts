import {
  AllocatorError,
  PAGE_SIZE,
  PHYS_ADDR_LIMIT,
  describeValue,
  hex,
  type PhysRange,
} from "@allockit/core";
import type { PmmState } from "./state.js";
import { ZONE_COUNT } from "./zones.js";

/**
 * `reserve` after init: the free frames of a range leave the managed set for good. Rare (a
 * firmware table found late), so it may walk a zone's whole stack:
 *
 * 1. no frame of the range may be allocated (EINVAL naming the first, nothing changed);
 * 2. the stacks of the zones involved are rebuilt without the range's frames;
 * 3. the regions are cut: shrunk, split in two (a spare descriptor), or dropped. The bits of
 *    the cut frames stay in the bitmap, unused, so no other frame's bit moves.
 */
export function reserveFrames(state: PmmState, range: PhysRange): void {
  checkRange(range);
  if (range.length === 0) return;
  const from = Math.floor(range.base / PAGE_SIZE);
  const to = Math.ceil((range.base + range.length) / PAGE_SIZE);
  const { regions, bitmap } = state;
  const first = regions.firstEndingAfter(from);
  let last = first;
  while (last < regions.count && regions.base(last) < to) last++;
  if (first === last) return;

  let zonesWithStackedFrames = 0;
  for (let index = first; index < last; index++) {
    const base = regions.base(index);
    const bitBase = regions.bitBase(index);
    const low = Math.max(from, base);
    const high = Math.min(to, regions.watermark(index));
    if (low >= high) continue; // all untouched: on no stack, never allocated
    const allocated = bitmap.firstSet(bitBase + (low - base), bitBase + (high - base));
    if (allocated >= 0) {
      const addr = (base + (allocated - bitBase)) * PAGE_SIZE;
      throw new AllocatorError(
        "EINVAL",
        `cannot reserve ${describeRange(range)}: frame ${hex(addr)} in it is allocated`,
        addr,
      );
    }
    zonesWithStackedFrames |= 1 << state.zones.zoneOfFrame(base);
  }
  const splitsRegion = last === first + 1 && regions.base(first) < from && to < regions.end(first);
  if (splitsRegion && regions.count >= regions.capacity) {
    throw new AllocatorError(
      "ENOMEM",
      `cannot reserve ${describeRange(range)}: splitting a region needs a descriptor, and all ${regions.capacity} are in use`,
      range.base,
    );
  }

  for (let zone = 0; zone < ZONE_COUNT; zone++) {
    if ((zonesWithStackedFrames & (1 << zone)) !== 0) {
      state.stacks.retain(zone, (frame) => frame < from || frame >= to);
    }
  }
  // From the top down, so an insertion or removal does not move the regions still to cut.
  for (let index = last - 1; index >= first; index--) cutRegion(state, index, from, to);
  state.recount();
}

/** Removes frames [from, to) from region `index`, which overlaps them. */
function cutRegion(state: PmmState, index: number, from: number, to: number): void {
  const { regions } = state;
  const base = regions.base(index);
  const end = regions.end(index);
  const watermark = regions.watermark(index);
  const bitBase = regions.bitBase(index);
  const keepsBelow = base < from;
  const keepsAbove = to < end;
  if (keepsAbove) {
    // Frames of the upper part below the old watermark were handed out or stacked: keep them so.
    const aboveIndex = keepsBelow ? index + 1 : index;
    if (keepsBelow) regions.insertAt(aboveIndex);
    regions.write(aboveIndex, to, end, Math.max(watermark, to), bitBase + (to - base));
  }
  if (keepsBelow) regions.write(index, base, from, Math.min(watermark, from), bitBase);
  if (!keepsBelow && !keepsAbove) regions.removeAt(index);
}

function checkRange(range: PhysRange): void {
  if (
    typeof range !== "object" ||
    range === null ||
    !Number.isSafeInteger(range.base) ||
    !Number.isSafeInteger(range.length) ||
    range.base < 0 ||
    range.length < 0 ||
    range.base + range.length > PHYS_ADDR_LIMIT
  ) {
    throw new AllocatorError(
      "EINVAL",
      `range ${describeValue(range)} is not a physical range (base and length non-negative, below 2^52)`,
      range,
    );
  }
}

function describeRange(range: PhysRange): string {
  const name = range.name === undefined ? "" : ` (${JSON.stringify(range.name)})`;
  return `${hex(range.base)}..${hex(range.base + range.length)}${name}`;
}
