import type { PhysicalMemory } from "@allockit/core";

/**
 * Frame numbers reach 2^40 (addresses below 2^52), so in RAM they take 8 bytes: two
 * little-endian 32-bit halves, like a 64-bit field of a C struct.
 */
export const FRAME_NUMBER_BYTES = 8;

const TWO_POW_32 = 4294967296;

export function readFrameNumber(memory: PhysicalMemory, addr: number): number {
  return memory.read32(addr) + memory.read32(addr + 4) * TWO_POW_32;
}

export function writeFrameNumber(memory: PhysicalMemory, addr: number, frame: number): void {
  // ToUint32 is exact modulo 2^32 for any safe integer, so `>>> 0` keeps the low half.
  memory.write32(addr, frame >>> 0);
  memory.write32(addr + 4, Math.floor(frame / TWO_POW_32));
}
