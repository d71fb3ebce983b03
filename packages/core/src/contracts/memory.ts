/**
 * What allocators read and write through. Over the machine a `Memory` goes through the MMU and
 * TLB; over flat memory it is a typed-array access. Allocators never touch storage any other way.
 */
export interface Memory {
  /** Reads an unsigned byte. */
  read8(addr: number): number;
  /** Reads an unsigned little-endian 16-bit value. */
  read16(addr: number): number;
  /** Reads an unsigned little-endian 32-bit value. */
  read32(addr: number): number;
  write8(addr: number, value: number): void;
  write16(addr: number, value: number): void;
  write32(addr: number, value: number): void;
  /** Sets `length` bytes at `addr` to `byte`. */
  fill(addr: number, byte: number, length: number): void;
  /** Copies `length` bytes from `src` to `dst`; overlapping ranges behave like memmove. */
  copy(dst: number, src: number, length: number): void;
  /** Copies `length` bytes out into a new array. */
  readBytes(addr: number, length: number): Uint8Array;
  /** Copies `bytes` in at `addr`. */
  writeBytes(addr: number, bytes: Uint8Array): void;
}

/**
 * Physical memory access, as a PMM or the page-table code sees it: the same operations over
 * physical addresses (below 2^52), plus 64-bit entries held as two 32-bit halves.
 */
export interface PhysicalMemory extends Memory {
  /** Low and high halves of a little-endian 64-bit value. */
  read64Low(addr: number): number;
  read64High(addr: number): number;
  /** Writes a 64-bit value from its halves. */
  write64(addr: number, low: number, high: number): void;
}
