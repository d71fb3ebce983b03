import { TWO_POW_32 } from "@allockit/core";
import type { Memory } from "@allockit/core";

/** Reads a 64-bit address field (two little-endian 32-bit halves). */
export function read64(memory: Memory, addr: number): number {
  const high = memory.read32(addr + 4);
  const low = memory.read32(addr);
  return high === 0 ? low : high * TWO_POW_32 + low;
}

/** Writes a 64-bit address field (two little-endian 32-bit halves). */
export function write64(memory: Memory, addr: number, value: number): void {
  if (value < TWO_POW_32) {
    memory.write32(addr, value);
    memory.write32(addr + 4, 0);
  } else {
    const high = Math.floor(value / TWO_POW_32);
    memory.write32(addr, value - high * TWO_POW_32);
    memory.write32(addr + 4, high);
  }
}
