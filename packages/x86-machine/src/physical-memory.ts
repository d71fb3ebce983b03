import {
  AllocatorError,
  PAGE_SIZE,
  TWO_POW_32,
  hex,
  normalizeMemoryMap,
  type MemoryMap,
  type MemoryMapEntry,
  type PhysicalMemory,
} from "@allockit/core";
import { BusError } from "./faults.js";

/** A device behind a physical range: reads and writes of 1, 2 or 4 bytes at an offset. */
export interface MmioHandler {
  read(offset: number, width: number): number;
  write(offset: number, width: number, value: number): void;
}

export interface PhysicalRamOptions {
  /** Non-RAM accesses raise BusError (default); otherwise they read all-ones and drop writes. */
  strict?: boolean;
}

// Backing store: pages are handed slots in 1 MiB pools in the order they are first written, so
// host memory follows the pages touched, not the size of RAM. frame -> slot goes through a
// directory of 1024-frame chunks (slot + 1 stored, 0 = never written).
const POOL_PAGES = 256;
/** A slot's pool is `slot >>> POOL_SHIFT`. */
export const POOL_SHIFT = 8;
const CHUNK_FRAMES = 1024;

/** Memory types that are RAM a program may read and write (firmware tables live in RAM too). */
const RAM_TYPES = new Set(["usable", "acpi-reclaimable", "acpi-nvs"]);

/**
 * Sparse, lazily backed physical memory over a firmware memory map. Little-endian 8/16/32-bit
 * access and 64-bit entries as two halves. Pages never written read as zero and cost nothing.
 */
export class PhysicalRam implements PhysicalMemory {
  readonly strict: boolean;
  /** The map this memory was built from (normalised). */
  readonly map: readonly MemoryMapEntry[];
  /** Highest RAM address + 1. */
  readonly ramEnd: number;
  /** Data views of the pools, indexed by slot >>> 8. */
  readonly pools: DataView[] = [];
  /** The same pools as bytes. */
  readonly poolBytes: Uint8Array[] = [];
  private readonly directory = new Map<number, Int32Array>();
  private cachedChunkKey = -1;
  private cachedChunk: Int32Array | undefined;
  private slots = 0;
  // RAM ranges as parallel arrays, sorted; plus the last one hit.
  private readonly ramBase: Float64Array;
  private readonly ramLimit: Float64Array;
  private hitBase = 0;
  private hitLimit = 0;
  private readonly mmio: Array<{ base: number; end: number; handler: MmioHandler; name: string }> =
    [];

  constructor(map: MemoryMap, options: PhysicalRamOptions = {}) {
    this.strict = options.strict ?? true;
    this.map = normalizeMemoryMap(map).map;
    const ram = this.map.filter((e) => RAM_TYPES.has(e.type));
    this.ramBase = Float64Array.from(ram, (e) => e.base);
    this.ramLimit = Float64Array.from(ram, (e) => e.base + e.length);
    this.ramEnd = ram.length === 0 ? 0 : this.ramLimit[ram.length - 1]!;
  }

  /** Pages that have host memory behind them. */
  get touchedPages(): number {
    return this.slots;
  }

  /** Host bytes reserved for page data. */
  get hostBytes(): number {
    return this.pools.length * POOL_PAGES * PAGE_SIZE;
  }

  /** Registers a device over `[base, base + length)`; accesses there go to `handler`. */
  mapMmio(base: number, length: number, handler: MmioHandler, name = "mmio"): void {
    if (this.mmio.some((m) => base < m.end && m.base < base + length)) {
      throw new AllocatorError(
        "EINVAL",
        `MMIO range ${hex(base)}+${hex(length)} overlaps another`,
        base,
      );
    }
    this.mmio.push({ base, end: base + length, handler, name });
  }

  /** True when `[addr, addr + width)` is RAM. */
  isRam(addr: number, width = 1): boolean {
    if (addr >= this.hitBase && addr + width <= this.hitLimit) return true;
    let lo = 0;
    let hi = this.ramBase.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (addr < this.ramBase[mid]!) hi = mid - 1;
      else if (addr >= this.ramLimit[mid]!) lo = mid + 1;
      else {
        if (addr + width > this.ramLimit[mid]!) return false;
        this.hitBase = this.ramBase[mid]!;
        this.hitLimit = this.ramLimit[mid]!;
        return true;
      }
    }
    return false;
  }

  /**
   * Slot of the page holding `addr`, or -1 when it has none. With `allocate`, a RAM page gets
   * one (first write). Callers check RAM-ness first.
   */
  pageSlot(addr: number, allocate: boolean): number {
    const frame = Math.floor(addr / PAGE_SIZE);
    const key = Math.floor(frame / CHUNK_FRAMES);
    let chunk = key === this.cachedChunkKey ? this.cachedChunk : this.directory.get(key);
    if (chunk === undefined) {
      if (!allocate) return -1;
      chunk = new Int32Array(CHUNK_FRAMES);
      this.directory.set(key, chunk);
    }
    this.cachedChunkKey = key;
    this.cachedChunk = chunk;
    const index = frame - key * CHUNK_FRAMES;
    const stored = chunk[index]!;
    if (stored !== 0) return stored - 1;
    if (!allocate) return -1;
    const slot = this.slots++;
    if (slot >>> POOL_SHIFT >= this.pools.length) {
      const buffer = new ArrayBuffer(POOL_PAGES * PAGE_SIZE);
      this.pools.push(new DataView(buffer));
      this.poolBytes.push(new Uint8Array(buffer));
    }
    chunk[index] = slot + 1;
    return slot;
  }

  /** Byte offset of a slot's page inside its pool. */
  static slotOffset(slot: number): number {
    return (slot & (POOL_PAGES - 1)) * PAGE_SIZE;
  }

  // ---- access ----

  read8(addr: number): number {
    return this.read(addr, 1);
  }
  read16(addr: number): number {
    return this.read(addr, 2);
  }
  read32(addr: number): number {
    return this.read(addr, 4);
  }
  write8(addr: number, value: number): void {
    this.write(addr, 1, value);
  }
  write16(addr: number, value: number): void {
    this.write(addr, 2, value);
  }
  write32(addr: number, value: number): void {
    this.write(addr, 4, value);
  }
  read64Low(addr: number): number {
    return this.read(addr, 4);
  }
  read64High(addr: number): number {
    return this.read(addr + 4, 4);
  }
  write64(addr: number, low: number, high: number): void {
    this.write(addr, 4, low);
    this.write(addr + 4, 4, high);
  }
  /** A 64-bit value as a number (exact below 2^53). */
  read64(addr: number): number {
    return this.read(addr + 4, 4) * TWO_POW_32 + this.read(addr, 4);
  }

  /** Reads 1, 2 or 4 bytes, little-endian. */
  read(addr: number, width: number): number {
    const offset = addr % PAGE_SIZE;
    if (offset + width <= PAGE_SIZE && this.isRam(addr, width)) {
      const slot = this.pageSlot(addr, false);
      if (slot < 0) return 0;
      const view = this.pools[slot >>> POOL_SHIFT]!;
      const at = PhysicalRam.slotOffset(slot) + offset;
      return width === 4
        ? view.getUint32(at, true)
        : width === 2
          ? view.getUint16(at, true)
          : view.getUint8(at);
    }
    return this.readSlow(addr, width);
  }

  /** Writes 1, 2 or 4 bytes, little-endian. */
  write(addr: number, width: number, value: number): void {
    const offset = addr % PAGE_SIZE;
    if (offset + width <= PAGE_SIZE && this.isRam(addr, width)) {
      const slot = this.pageSlot(addr, true);
      const view = this.pools[slot >>> POOL_SHIFT]!;
      const at = PhysicalRam.slotOffset(slot) + offset;
      if (width === 4) view.setUint32(at, value >>> 0, true);
      else if (width === 2) view.setUint16(at, value, true);
      else view.setUint8(at, value);
      return;
    }
    this.writeSlow(addr, width, value);
  }

  private readSlow(addr: number, width: number): number {
    const device = this.device(addr, width);
    if (device !== undefined) return device.handler.read(addr - device.base, width) >>> 0;
    if ((addr % PAGE_SIZE) + width > PAGE_SIZE && this.isRamOrDevice(addr, width)) {
      let value = 0;
      for (let i = width - 1; i >= 0; i--) value = value * 256 + this.read(addr + i, 1);
      return value;
    }
    this.notRam(addr, width);
    return width === 4 ? 0xffffffff : width === 2 ? 0xffff : 0xff;
  }

  private writeSlow(addr: number, width: number, value: number): void {
    const device = this.device(addr, width);
    if (device !== undefined) {
      device.handler.write(addr - device.base, width, value);
      return;
    }
    if ((addr % PAGE_SIZE) + width > PAGE_SIZE && this.isRamOrDevice(addr, width)) {
      for (let i = 0; i < width; i++) this.write(addr + i, 1, (value >>> (8 * i)) & 0xff);
      return;
    }
    this.notRam(addr, width);
  }

  private isRamOrDevice(addr: number, width: number): boolean {
    for (let i = 0; i < width; i++)
      if (!this.isRam(addr + i) && this.device(addr + i, 1) === undefined) return false;
    return true;
  }

  private device(addr: number, width: number) {
    for (const m of this.mmio) if (addr >= m.base && addr + width <= m.end) return m;
    return undefined;
  }

  /** In strict mode, raises BusError naming the map entry or hole; otherwise does nothing. */
  private notRam(addr: number, width: number): void {
    if (!this.strict) return;
    throw new BusError(addr, width, this.describeLocation(addr));
  }

  /** Where a physical address falls: its map entry, or the hole it is in. */
  describeLocation(addr: number): string {
    let below: MemoryMapEntry | undefined;
    for (const entry of this.map) {
      if (addr >= entry.base && addr < entry.base + entry.length) {
        const raw = entry.raw === undefined ? "" : ` (type ${entry.raw})`;
        return `is in ${entry.type}${raw} range ${hex(entry.base)}-${hex(entry.base + entry.length - 1)}, not RAM`;
      }
      if (entry.base + entry.length <= addr) below = entry;
    }
    const from = below === undefined ? 0 : below.base + below.length;
    const next = this.map.find((e) => e.base > addr);
    return `is in a hole of the memory map (${hex(from)}-${next === undefined ? "end" : hex(next.base - 1)})`;
  }

  fill(addr: number, byte: number, length: number): void {
    let at = addr;
    const end = addr + length;
    while (at < end) {
      const offset = at % PAGE_SIZE;
      const run = Math.min(PAGE_SIZE - offset, end - at);
      if (this.isRam(at, run)) {
        const slot = this.pageSlot(at, byte !== 0);
        if (slot >= 0) {
          const start = PhysicalRam.slotOffset(slot) + offset;
          this.poolBytes[slot >>> POOL_SHIFT]!.fill(byte, start, start + run);
        }
      } else {
        for (let i = 0; i < run; i++) this.write(at + i, 1, byte);
      }
      at += run;
    }
  }

  copy(dst: number, src: number, length: number): void {
    this.writeBytes(dst, this.readBytes(src, length));
  }

  readBytes(addr: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.readInto(addr, length, out, 0);
    return out;
  }

  writeBytes(addr: number, bytes: Uint8Array): void {
    this.writeFrom(addr, bytes.length, bytes, 0);
  }

  /** Copies `length` bytes at `addr` into `out` from index `at` (unwritten pages read zero). */
  readInto(addr: number, length: number, out: Uint8Array, at: number): void {
    let done = 0;
    while (done < length) {
      const pa = addr + done;
      const offset = pa % PAGE_SIZE;
      const run = Math.min(PAGE_SIZE - offset, length - done);
      if (this.isRam(pa, run)) {
        const slot = this.pageSlot(pa, false);
        if (slot < 0) out.fill(0, at + done, at + done + run);
        else {
          const start = PhysicalRam.slotOffset(slot) + offset;
          out.set(this.poolBytes[slot >>> POOL_SHIFT]!.subarray(start, start + run), at + done);
        }
      } else {
        for (let i = 0; i < run; i++) out[at + done + i] = this.read(pa + i, 1);
      }
      done += run;
    }
  }

  /** Copies `bytes[from .. from + length)` to `addr`. */
  writeFrom(addr: number, length: number, bytes: Uint8Array, from: number): void {
    let done = 0;
    while (done < length) {
      const pa = addr + done;
      const offset = pa % PAGE_SIZE;
      const run = Math.min(PAGE_SIZE - offset, length - done);
      if (this.isRam(pa, run)) {
        const slot = this.pageSlot(pa, true);
        const start = PhysicalRam.slotOffset(slot) + offset;
        this.poolBytes[slot >>> POOL_SHIFT]!.set(
          bytes.subarray(from + done, from + done + run),
          start,
        );
      } else {
        for (let i = 0; i < run; i++) this.write(pa + i, 1, bytes[from + done + i]!);
      }
      done += run;
    }
  }
}
