import { AllocatorError, type PhysicalMemory } from "@allockit/core";
import { BatchedFreeStacks } from "./batched-free-stacks.js";
import type { FrameBitmap } from "./frame-bitmap.js";
import { describeFrame, type FreeFrameOwner, type FreeStacks } from "./free-stacks.js";
import { LinkedFreeStacks } from "./linked-free-stacks.js";
import type { FramesPerLink } from "./options.js";
import type { RegionTable } from "./region-table.js";
import { ZONE_COUNT, ZONE_DMA, zoneName, type ZoneFrameLimits } from "./zones.js";

/**
 * Everything a StackPmm knows after init: its metadata in simulated RAM (region table, bitmap,
 * free stacks inside the free frames) and the few scalars it keeps in JS per zone.
 *
 * A managed frame is in exactly one of three states: allocated (bitmap bit 1), on its zone's
 * free stack, or untouched (at or above its region's watermark). So per zone
 * `total = allocated + stacked + untouched`, which `check()` verifies against the bitmap.
 */
export class PmmState implements FreeFrameOwner {
  /** Managed frames per zone (sums of the region sizes). */
  readonly totalFrames = new Float64Array(ZONE_COUNT);
  /** Frames above the watermarks per zone. */
  readonly untouchedFrames = new Float64Array(ZONE_COUNT);
  /** Each zone's regions are the table indexes [firstRegion, endRegion): zones follow addresses. */
  readonly firstRegion = new Int32Array(ZONE_COUNT);
  readonly endRegion = new Int32Array(ZONE_COUNT);
  /** Per zone, the region the lazy fill takes from next: those before it are used up. */
  readonly fillRegion = new Int32Array(ZONE_COUNT);
  readonly stacks: FreeStacks;
  /** Bitmap bit of the frame the last `takeUntouched` returned. */
  untouchedBit = -1;
  /**
   * The bit `freeBitOf` or `takeUntouched` found clear last, and its bitmap byte: marking that
   * frame allocated right after then needs no second read.
   */
  checkedBit = -1;
  checkedByte = 0;

  constructor(
    readonly memory: PhysicalMemory,
    readonly zones: ZoneFrameLimits,
    readonly regions: RegionTable,
    readonly bitmap: FrameBitmap,
    readonly framesPerLink: FramesPerLink,
    /** Entries need 8 bytes: some frame number is 2^32 or more. */
    readonly wideEntries: boolean,
    scrubLinks: boolean,
  ) {
    this.stacks =
      framesPerLink === "batched"
        ? new BatchedFreeStacks(memory, this, wideEntries, scrubLinks)
        : new LinkedFreeStacks(memory, this, scrubLinks);
  }

  freeBitOf(frame: number, zone: number): number {
    if (this.zones.zoneOfFrame(frame) !== zone) return -1;
    const bit = this.regions.bitOf(frame, zone);
    if (bit < 0) return -1;
    const byte = this.bitmap.byteOf(bit);
    if (((byte >>> (bit & 7)) & 1) !== 0) return -1;
    this.checkedBit = bit;
    this.checkedByte = byte;
    return bit;
  }

  /** Free frames of `zone`. */
  freeFrames(zone: number): number {
    return this.stacks.frames[zone]! + this.untouchedFrames[zone]!;
  }

  /**
   * The lowest untouched frame of `zone`, its watermark moved past it (the caller checks
   * `untouchedFrames[zone] > 0`). Its bit goes to `untouchedBit`.
   */
  takeUntouched(zone: number): number {
    const regions = this.regions;
    const end = this.endRegion[zone]!;
    for (let index = this.fillRegion[zone]!; index < end; index++) {
      const watermark = regions.watermark(index);
      if (watermark >= regions.end(index)) continue;
      const bit = regions.bitBase(index) + (watermark - regions.base(index));
      const byte = this.bitmap.byteOf(bit);
      if (((byte >>> (bit & 7)) & 1) !== 0) {
        throw new AllocatorError(
          "ECORRUPT",
          `${describeFrame(watermark)} at the watermark of region ${index} is marked allocated in the bitmap`,
          watermark,
        );
      }
      regions.setWatermark(index, watermark + 1);
      this.fillRegion[zone] = index;
      this.untouchedFrames[zone]!--;
      this.untouchedBit = bit;
      this.checkedBit = bit;
      this.checkedByte = byte;
      return watermark;
    }
    throw new AllocatorError(
      "ECORRUPT",
      `${zoneName(zone)} counts ${this.untouchedFrames[zone]} untouched frames but its regions have none from region ${this.fillRegion[zone]} on`,
      zone,
    );
  }

  /** Recomputes the per-zone totals, region ranges and fill hints from the region table. */
  recount(): void {
    const regions = this.regions;
    this.totalFrames.fill(0);
    this.untouchedFrames.fill(0);
    let index = 0;
    for (let zone = ZONE_DMA; zone < ZONE_COUNT; zone++) {
      this.firstRegion[zone] = index;
      this.fillRegion[zone] = -1;
      while (index < regions.count && this.zones.zoneOfFrame(regions.base(index)) === zone) {
        const end = regions.end(index);
        const watermark = regions.watermark(index);
        this.totalFrames[zone]! += end - regions.base(index);
        this.untouchedFrames[zone]! += end - watermark;
        if (watermark < end && this.fillRegion[zone] === -1) this.fillRegion[zone] = index;
        index++;
      }
      this.endRegion[zone] = index;
      if (this.fillRegion[zone] === -1) this.fillRegion[zone] = index;
    }
    regions.forgetHint();
  }
}
