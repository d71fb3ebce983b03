import { PAGE_SIZE, PHYS_ADDR_LIMIT, ZONES, type Zone, type ZoneLimits } from "@allockit/core";

/** Zone numbers, in address order (the order of core's ZONES). */
export const ZONE_DMA = 0;
export const ZONE_DMA32 = 1;
export const ZONE_NORMAL = 2;
export const ZONE_COUNT = 3;

/** Zone bounds in frame numbers, so the hot paths compare plain numbers. */
export class ZoneFrames {
  /** First frame of each zone. */
  readonly lowFrame = new Float64Array(ZONE_COUNT);
  /** One past the last frame of each zone (NORMAL ends at the 2^52 physical limit). */
  readonly highFrame = new Float64Array(ZONE_COUNT);

  constructor(limits: ZoneLimits) {
    const dmaEnd = Math.floor(limits.DMA / PAGE_SIZE);
    const dma32End = Math.floor(limits.DMA32 / PAGE_SIZE);
    this.lowFrame.set([0, dmaEnd, dma32End]);
    this.highFrame.set([dmaEnd, dma32End, PHYS_ADDR_LIMIT / PAGE_SIZE]);
  }

  /** Zone number of a frame. */
  zoneOf(frame: number): number {
    return frame < this.highFrame[ZONE_DMA]!
      ? ZONE_DMA
      : frame < this.highFrame[ZONE_DMA32]!
        ? ZONE_DMA32
        : ZONE_NORMAL;
  }
}

export function zoneNumber(zone: Zone): number {
  return ZONES.indexOf(zone);
}

export function zoneName(zone: number): Zone {
  return ZONES[zone]!;
}
