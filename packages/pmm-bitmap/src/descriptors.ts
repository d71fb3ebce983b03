import { hex, high32, join64, low32, type PhysicalMemory } from "@allockit/core";
import type { FrameBitmaps } from "./frame-bitmaps.js";
import {
  DESCRIPTOR_BYTES,
  DESC_BASE_FRAME_HIGH,
  DESC_BASE_FRAME_LOW,
  DESC_BITMAP_ADDR_HIGH,
  DESC_BITMAP_ADDR_LOW,
  DESC_FRAME_COUNT,
  DESC_FREE_FRAMES,
  DESC_LEVEL_COUNT,
  DESC_NEXT_FIT,
  DESC_UNMANAGED_ADDR_HIGH,
  DESC_UNMANAGED_ADDR_LOW,
  DESC_UNMANAGED_FRAMES,
  DESC_ZONE,
  HEADER_DESCRIPTOR_BYTES,
  HEADER_MAGIC,
  HEADER_METADATA_BYTES,
  HEADER_REGION_COUNT,
  HEADER_VERSION,
  MAX_LEVELS,
  METADATA_MAGIC,
  METADATA_VERSION,
} from "./layout.js";

/**
 * The metadata header and the region descriptors in RAM: written once at init (the counters
 * are written through later by FrameBitmaps), and read back by `check()` to compare with what
 * the allocator believes.
 */

/** A field as stored, and the value it should hold. */
type Field = [name: string, stored: number, expected: number];

function firstMismatch(fields: readonly Field[]): string | undefined {
  for (const [name, stored, expected] of fields) {
    if (stored !== expected) return `${name} reads ${hex(stored)}, expected ${hex(expected)}`;
  }
  return undefined;
}

export function writeHeader(memory: PhysicalMemory, bitmaps: FrameBitmaps): void {
  const addr = bitmaps.metadataAddr;
  memory.write32(addr + HEADER_MAGIC, METADATA_MAGIC);
  memory.write32(addr + HEADER_VERSION, METADATA_VERSION);
  memory.write32(addr + HEADER_REGION_COUNT, bitmaps.regionCount);
  memory.write32(addr + HEADER_DESCRIPTOR_BYTES, DESCRIPTOR_BYTES);
  memory.write32(addr + HEADER_METADATA_BYTES, bitmaps.metadataBytes);
}

/** The first header field that differs from the layout in use, or undefined. */
export function headerMismatch(memory: PhysicalMemory, bitmaps: FrameBitmaps): string | undefined {
  const addr = bitmaps.metadataAddr;
  return firstMismatch([
    ["magic", memory.read32(addr + HEADER_MAGIC), METADATA_MAGIC],
    ["version", memory.read32(addr + HEADER_VERSION), METADATA_VERSION],
    ["region count", memory.read32(addr + HEADER_REGION_COUNT), bitmaps.regionCount],
    ["descriptor size", memory.read32(addr + HEADER_DESCRIPTOR_BYTES), DESCRIPTOR_BYTES],
    ["metadata size", memory.read32(addr + HEADER_METADATA_BYTES), bitmaps.metadataBytes],
  ]);
}

/** Writes the descriptor of a region that is all free. */
export function writeDescriptor(
  memory: PhysicalMemory,
  bitmaps: FrameBitmaps,
  region: number,
): void {
  const desc = bitmaps.descriptorAddr[region]!;
  const base = bitmaps.baseFrame[region]!;
  const bitmap = bitmaps.levelAddr[region * MAX_LEVELS]!;
  const unmanaged = bitmaps.unmanagedAddr[region]!;
  memory.write32(desc + DESC_BASE_FRAME_LOW, low32(base));
  memory.write32(desc + DESC_BASE_FRAME_HIGH, high32(base));
  memory.write32(desc + DESC_FRAME_COUNT, bitmaps.frameCount[region]!);
  memory.write32(desc + DESC_FREE_FRAMES, bitmaps.freeFrames(region));
  memory.write32(desc + DESC_NEXT_FIT, bitmaps.nextFit(region));
  memory.write8(desc + DESC_ZONE, bitmaps.zoneIndex[region]!);
  memory.write8(desc + DESC_LEVEL_COUNT, bitmaps.levelCount[region]!);
  memory.write32(desc + DESC_BITMAP_ADDR_LOW, low32(bitmap));
  memory.write32(desc + DESC_BITMAP_ADDR_HIGH, high32(bitmap));
  memory.write32(desc + DESC_UNMANAGED_ADDR_LOW, low32(unmanaged));
  memory.write32(desc + DESC_UNMANAGED_ADDR_HIGH, high32(unmanaged));
  memory.write32(desc + DESC_UNMANAGED_FRAMES, bitmaps.unmanagedFrames(region));
}

/** The first descriptor field whose stored value differs from the allocator's, or undefined. */
export function descriptorMismatch(
  memory: PhysicalMemory,
  bitmaps: FrameBitmaps,
  region: number,
): string | undefined {
  const desc = bitmaps.descriptorAddr[region]!;
  const read64 = (low: number, high: number) =>
    join64(memory.read32(desc + low), memory.read32(desc + high));
  return firstMismatch([
    ["base frame", read64(DESC_BASE_FRAME_LOW, DESC_BASE_FRAME_HIGH), bitmaps.baseFrame[region]!],
    ["frame count", memory.read32(desc + DESC_FRAME_COUNT), bitmaps.frameCount[region]!],
    ["zone", memory.read8(desc + DESC_ZONE), bitmaps.zoneIndex[region]!],
    ["level count", memory.read8(desc + DESC_LEVEL_COUNT), bitmaps.levelCount[region]!],
    [
      "bitmap address",
      read64(DESC_BITMAP_ADDR_LOW, DESC_BITMAP_ADDR_HIGH),
      bitmaps.levelAddr[region * MAX_LEVELS]!,
    ],
    [
      "unmanaged bitmap address",
      read64(DESC_UNMANAGED_ADDR_LOW, DESC_UNMANAGED_ADDR_HIGH),
      bitmaps.unmanagedAddr[region]!,
    ],
    ["free frames", memory.read32(desc + DESC_FREE_FRAMES), bitmaps.freeFrames(region)],
    [
      "unmanaged frames",
      memory.read32(desc + DESC_UNMANAGED_FRAMES),
      bitmaps.unmanagedFrames(region),
    ],
    ["next-fit hint", memory.read32(desc + DESC_NEXT_FIT), bitmaps.nextFit(region)],
  ]);
}
