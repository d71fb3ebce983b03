import { TWO_POW_32 } from "@allockit/core";
import type { Memory } from "@allockit/core";

/** Reads a 64-bit address field (two little-endian 32-bit halves). */
export function read64(memory: Memory, addr: number): number {
  return memory.read32(addr + 4) * TWO_POW_32 + memory.read32(addr);
}

/** Writes a 64-bit address field (two little-endian 32-bit halves). */
export function write64(memory: Memory, addr: number, value: number): void {
  memory.write32(addr, value % TWO_POW_32);
  memory.write32(addr + 4, Math.floor(value / TWO_POW_32));
}
