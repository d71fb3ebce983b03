import { PAGE_SIZE, ZONES, type PhysRange, type Zone, type ZoneLimits } from "@allockit/core";

/**
 * Zones as small integers, so per-zone state lives in typed arrays: index 0 DMA, 1 DMA32,
 * 2 NORMAL (the order of core's ZONES).
 */
export const ZONE_DMA = 0;
export const ZONE_DMA32 = 1;
export const ZONE_NORMAL = 2;
export const ZONE_COUNT = 3;

export function zoneIndex(zone: Zone): number {
  return ZONES.indexOf(zone);
}

export function zoneName(index: number): Zone {
  return ZONES[index]!;
}

/** Zone limits as frame numbers: the first frame of DMA32 and of NORMAL. */
export class ZoneFrameLimits {
  readonly dmaEndFrame: number;
  readonly dma32EndFrame: number;

  constructor(limits: ZoneLimits) {
    this.dmaEndFrame = limits.DMA / PAGE_SIZE;
    this.dma32EndFrame = limits.DMA32 / PAGE_SIZE;
  }

  zoneOfFrame(frame: number): number {
    return frame < this.dmaEndFrame
      ? ZONE_DMA
      : frame < this.dma32EndFrame
        ? ZONE_DMA32
        : ZONE_NORMAL;
  }

  /** First frame past the zone (frame numbers stay below 2^40, so MAX_SAFE_INTEGER is "none"). */
  zoneEndFrame(zone: number): number {
    return zone === ZONE_DMA
      ? this.dmaEndFrame
      : zone === ZONE_DMA32
        ? this.dma32EndFrame
        : Number.MAX_SAFE_INTEGER;
  }
}

/**
 * Page-aligned byte ranges as frame-number pieces `[baseFrame, endFrame)`, cut at the zone
 * limits so that each piece lies in one zone.
 */
export function piecesWithinZones(
  ranges: readonly PhysRange[],
  limits: ZoneFrameLimits,
): Array<[number, number]> {
  const pieces: Array<[number, number]> = [];
  for (const range of ranges) {
    let base = range.base / PAGE_SIZE;
    const end = (range.base + range.length) / PAGE_SIZE;
    while (base < end) {
      const pieceEnd = Math.min(end, limits.zoneEndFrame(limits.zoneOfFrame(base)));
      pieces.push([base, pieceEnd]);
      base = pieceEnd;
    }
  }
  return pieces;
}
