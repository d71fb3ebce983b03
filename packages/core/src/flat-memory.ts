import { TWO_POW_32, hex } from "./address.js";
import type { PhysicalMemory } from "./contracts/memory.js";
import { AllocatorError } from "./errors.js";

/** The part of a `WebAssembly.Memory` that FlatMemory uses. */
export interface WasmMemoryLike {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(deltaPages: number): number;
}

/** What a FlatMemory can sit on: a buffer or a WebAssembly.Memory. */
export type FlatBacking = ArrayBuffer | SharedArrayBuffer | WasmMemoryLike;

function isWasmMemory(backing: FlatBacking): backing is WasmMemoryLike {
  return "buffer" in backing && typeof (backing as WasmMemoryLike).grow === "function";
}

/**
 * `Memory` over one contiguous buffer: addresses `base .. base + size` map to buffer offsets
 * `0 .. size`. It also serves as identity-mapped "physical" memory, so heaps and PMMs run with
 * no machine at all. Accesses outside the buffer throw EFAULT naming the address.
 */
export class FlatMemory implements PhysicalMemory {
  readonly base: number;
  private bytes: Uint8Array;
  private view: DataView;
  private end: number;
  private readonly wasm: WasmMemoryLike | undefined;

  /**
   * @param backing a buffer, a WebAssembly.Memory, or a size in bytes for a fresh ArrayBuffer
   * @param base the address of the first byte
   */
  constructor(backing: FlatBacking | number, base = 0) {
    if (!Number.isSafeInteger(base) || base < 0) {
      throw new AllocatorError(
        "EINVAL",
        `flat memory base ${String(base)} is not an address`,
        base,
      );
    }
    this.base = base;
    if (typeof backing === "number") {
      if (!Number.isSafeInteger(backing) || backing <= 0) {
        throw new AllocatorError(
          "EINVAL",
          `flat memory size ${String(backing)} is not a positive integer`,
          backing,
        );
      }
      backing = new ArrayBuffer(backing);
    }
    this.wasm = isWasmMemory(backing) ? backing : undefined;
    const buffer = this.wasm ? this.wasm.buffer : (backing as ArrayBuffer | SharedArrayBuffer);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.end = this.bytes.length;
  }

  /** Size in bytes. */
  get size(): number {
    return this.end;
  }

  /** The buffer behind this memory. */
  get buffer(): ArrayBuffer | SharedArrayBuffer {
    return this.bytes.buffer;
  }

  /** Re-reads a WebAssembly.Memory's buffer after it grew (growing detaches the old one). */
  refresh(): void {
    if (!this.wasm) return;
    this.bytes = new Uint8Array(this.wasm.buffer);
    this.view = new DataView(this.wasm.buffer);
    this.end = this.bytes.length;
  }

  /** True when `[addr, addr + length)` lies inside this memory. */
  contains(addr: number, length = 1): boolean {
    const offset = addr - this.base;
    return offset >= 0 && offset + length <= this.end;
  }

  private offset(addr: number, width: number): number {
    const offset = addr - this.base;
    if (!(offset >= 0 && offset + width <= this.end)) this.outside(addr, width);
    return offset;
  }

  private outside(addr: number, length: number): never {
    throw new AllocatorError(
      "EFAULT",
      `access of ${length} byte(s) at ${typeof addr === "number" ? hex(addr) : String(addr)} is outside flat memory ${hex(this.base)}..${hex(this.base + this.end)}`,
      addr,
    );
  }

  read8(addr: number): number {
    return this.bytes[this.offset(addr, 1)]!;
  }
  read16(addr: number): number {
    return this.view.getUint16(this.offset(addr, 2), true);
  }
  read32(addr: number): number {
    return this.view.getUint32(this.offset(addr, 4), true);
  }
  write8(addr: number, value: number): void {
    this.bytes[this.offset(addr, 1)] = value;
  }
  write16(addr: number, value: number): void {
    this.view.setUint16(this.offset(addr, 2), value, true);
  }
  write32(addr: number, value: number): void {
    this.view.setUint32(this.offset(addr, 4), value >>> 0, true);
  }
  read64Low(addr: number): number {
    return this.view.getUint32(this.offset(addr, 8), true);
  }
  read64High(addr: number): number {
    return this.view.getUint32(this.offset(addr, 8) + 4, true);
  }
  write64(addr: number, low: number, high: number): void {
    const offset = this.offset(addr, 8);
    this.view.setUint32(offset, low >>> 0, true);
    this.view.setUint32(offset + 4, high >>> 0, true);
  }
  fill(addr: number, byte: number, length: number): void {
    if (length === 0) return;
    const offset = this.offset(addr, length);
    this.bytes.fill(byte, offset, offset + length);
  }
  copy(dst: number, src: number, length: number): void {
    if (length === 0) return;
    const to = this.offset(dst, length);
    const from = this.offset(src, length);
    this.bytes.copyWithin(to, from, from + length);
  }
  readBytes(addr: number, length: number): Uint8Array {
    const offset = length === 0 ? 0 : this.offset(addr, length);
    return this.bytes.slice(offset, offset + length);
  }
  writeBytes(addr: number, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.bytes.set(bytes, this.offset(addr, bytes.length));
  }

  /** Reads a 64-bit value as a number (exact below 2^53). */
  read64(addr: number): number {
    return this.read64High(addr) * TWO_POW_32 + this.read64Low(addr);
  }
}
