import { PAGE_SIZE, ZONES, type PhysRange, type Zone, type ZoneLimits } from "@allockit/core";
import { WORD_BITS, WORD_BYTES } from "./bits.js";

/**
 * The byte layout of the metadata block in simulated RAM, in the order it appears:
 *
 *   header       HEADER_BYTES
 *   descriptors  DESCRIPTOR_BYTES per region
 *   per region   level 0 bitmap words, level 1 words, ... top level (one word),
 *                then the unmanaged bitmap (as many words as level 0)
 *
 * Bitmap words are little-endian 32-bit; bit i of word w stands for the frame (or the lower-level
 * word) w * 32 + i. Level 0 bit = 1: the frame is taken (allocated, unmanaged, or past the end
 * of the region). Level k + 1 bit = 1: word i of level k is full. Unmanaged bit = 1: the frame is
 * not managed RAM (metadata, reserved later); its level 0 bit is set too. All zero means "free",
 * so zeroed memory is an empty allocator and init writes only the tail words.
 */

/** "BMAP" read as a little-endian 32-bit word. */
export const METADATA_MAGIC = 0x50414d42;
export const METADATA_VERSION = 1;

export const HEADER_BYTES = 32;
export const HEADER_MAGIC = 0;
export const HEADER_VERSION = 4;
export const HEADER_REGION_COUNT = 8;
export const HEADER_DESCRIPTOR_BYTES = 12;
export const HEADER_METADATA_BYTES = 16;

export const DESCRIPTOR_BYTES = 64;
/** First frame number, as two 32-bit halves (frame numbers reach 2^40). */
export const DESC_BASE_FRAME_LOW = 0;
export const DESC_BASE_FRAME_HIGH = 4;
export const DESC_FRAME_COUNT = 8;
/** Free frames in the region: the zero bits of level 0. */
export const DESC_FREE_FRAMES = 12;
/** Next-fit hint: the region-relative frame a single-frame search starts from. */
export const DESC_NEXT_FIT = 16;
/** Zone index (0 DMA, 1 DMA32, 2 NORMAL) in byte 20, level count in byte 21. */
export const DESC_ZONE = 20;
export const DESC_LEVEL_COUNT = 21;
export const DESC_BITMAP_ADDR_LOW = 24;
export const DESC_BITMAP_ADDR_HIGH = 28;
export const DESC_UNMANAGED_ADDR_LOW = 32;
export const DESC_UNMANAGED_ADDR_HIGH = 36;
/** Frames of the region that are not managed: the set bits of the unmanaged bitmap. */
export const DESC_UNMANAGED_FRAMES = 40;

/**
 * Largest region, in frames (4 TiB): region-relative frame indices and word indices then fit
 * 32-bit integer math. Larger ranges are split.
 */
export const MAX_REGION_FRAMES = 2 ** 30;
/** Levels of a MAX_REGION_FRAMES region: 2^25, 2^20, 2^15, 2^10, 2^5 and 1 words. */
export const MAX_LEVELS = 6;

/** Zone indices, in ZONES order (DMA, DMA32, NORMAL). */
export const ZONE_COUNT = ZONES.length;

/** A region before its metadata is placed: a run of frames inside one zone. */
export interface RegionPlan {
  baseFrame: number;
  frameCount: number;
  zoneIndex: number;
}

/**
 * The ranges cut into regions: at the zone limits (so a region lies in one zone and a zone is a
 * run of consecutive regions) and every MAX_REGION_FRAMES frames. Ranges are sorted, disjoint
 * and page-aligned, as `managedRanges` returns them.
 */
export function planRegions(ranges: readonly PhysRange[], limits: ZoneLimits): RegionPlan[] {
  const cuts = [limits.DMA / PAGE_SIZE, limits.DMA32 / PAGE_SIZE];
  const plans: RegionPlan[] = [];
  for (const range of ranges) {
    let frame = range.base / PAGE_SIZE;
    const end = frame + range.length / PAGE_SIZE;
    while (frame < end) {
      const zoneIndex = frame < cuts[0]! ? 0 : frame < cuts[1]! ? 1 : 2;
      const zoneEnd = zoneIndex < cuts.length ? cuts[zoneIndex]! : Infinity;
      const sizeEnd = (Math.floor(frame / MAX_REGION_FRAMES) + 1) * MAX_REGION_FRAMES;
      const stop = Math.min(end, zoneEnd, sizeEnd);
      plans.push({ baseFrame: frame, frameCount: stop - frame, zoneIndex });
      frame = stop;
    }
  }
  return plans;
}

/** Words of each level of a region of `frameCount` frames, level 0 first, down to one word. */
export function levelWordCounts(frameCount: number): number[] {
  const words: number[] = [];
  let bits = frameCount;
  do {
    bits = Math.ceil(bits / WORD_BITS);
    words.push(bits);
  } while (bits > 1);
  return words;
}

/** Bytes of a region's bitmaps: every level plus the unmanaged bitmap. */
export function regionBitmapBytes(frameCount: number): number {
  const words = levelWordCounts(frameCount);
  return (words.reduce((sum, n) => sum + n, 0) + words[0]!) * WORD_BYTES;
}

/** Bytes of the whole metadata block for these regions. */
export function metadataBytes(plans: readonly RegionPlan[]): number {
  let bytes = HEADER_BYTES + plans.length * DESCRIPTOR_BYTES;
  for (const plan of plans) bytes += regionBitmapBytes(plan.frameCount);
  return bytes;
}

export function zoneName(zoneIndex: number): Zone {
  return ZONES[zoneIndex]!;
}
