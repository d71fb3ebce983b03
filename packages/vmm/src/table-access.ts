import { PAGE_SIZE, type PageTableAccess, type PhysicalMemory } from "@allockit/core";
import { PTE_P, PTE_RW, type Cpu } from "@allockit/x86-machine";
import type { Layout } from "./layout.js";

/**
 * How the VMM reads and writes paging-structure entries and frame contents. An entry is named
 * both ways, by the physical address of its table and by the linear address it translates and
 * its level, so each strategy picks what it needs: the direct map and the window use the
 * table's physical address, the recursive slot the linear address.
 *
 * Entries are handled as two 32-bit halves (no bigint); a 32-bit paging entry has no high half.
 */
export interface TableAccess {
  readonly name: PageTableAccess | "physical";
  readLow(table: number, level: number, va: number, index: number): number;
  readHigh(table: number, level: number, va: number, index: number): number;
  write(table: number, level: number, va: number, index: number, low: number, high: number): void;
  /** Reads or writes entry `index` of the table in `frame`, whichever space it belongs to. */
  frameReadLow(frame: number, index: number): number;
  frameReadHigh(frame: number, index: number): number;
  frameWrite(frame: number, index: number, low: number, high: number): void;
  /** Fills a frame with zeroes. */
  zero(frame: number): void;
  /** Copies one frame to another. */
  copy(dst: number, src: number): void;
  /**
   * Makes the tables of the space with top table `root` reachable (the recursive slot needs
   * that space loaded in CR3). Returns a token for `leave`.
   */
  enter(root: number): number;
  leave(token: number): void;
  /** An intermediate entry changed: drop what the strategy cached about the table below it. */
  tableChanged(level: number, va: number): void;
}

/** Before paging is on: tables and frames are reached by their physical addresses. */
export class PhysicalAccess implements TableAccess {
  readonly name = "physical" as const;
  constructor(
    private readonly memory: PhysicalMemory,
    private readonly entryBytes: number,
  ) {}
  readLow(table: number, _level: number, _va: number, index: number): number {
    return this.entryBytes === 4
      ? this.memory.read32(table + index * 4)
      : this.memory.read64Low(table + index * 8);
  }
  readHigh(table: number, _level: number, _va: number, index: number): number {
    return this.entryBytes === 4 ? 0 : this.memory.read64High(table + index * 8);
  }
  write(
    table: number,
    _level: number,
    _va: number,
    index: number,
    low: number,
    high: number,
  ): void {
    if (this.entryBytes === 4) this.memory.write32(table + index * 4, low);
    else this.memory.write64(table + index * 8, low, high);
  }
  frameReadLow(frame: number, index: number): number {
    return this.readLow(frame, 0, 0, index);
  }
  frameReadHigh(frame: number, index: number): number {
    return this.readHigh(frame, 0, 0, index);
  }
  frameWrite(frame: number, index: number, low: number, high: number): void {
    this.write(frame, 0, 0, index, low, high);
  }
  zero(frame: number): void {
    this.memory.fill(frame, 0, PAGE_SIZE);
  }
  copy(dst: number, src: number): void {
    this.memory.copy(dst, src, PAGE_SIZE);
  }
  enter(): number {
    return 0;
  }
  leave(): void {}
  tableChanged(): void {}
}

/**
 * A few kernel pages whose PTEs the VMM rewrites to reach any frame: map, use, move on (the
 * "temporary mapping" approach, and what the other strategies use to zero and copy frames, and
 * for frames the direct map does not cover). The window's page table maps itself in its first
 * entry, so its PTEs are edited through that page. Slots cache the frame they show; a slot is
 * remapped with an INVLPG on the boot CPU, the only CPU that uses the window.
 */
export class FrameWindow {
  private readonly shown: Float64Array;
  remaps = 0;

  constructor(
    private readonly cpu: Cpu,
    private readonly layout: Layout,
  ) {
    this.shown = new Float64Array(layout.windowPages).fill(-1);
    // Slot 0 is the window's own page table.
    this.shown[0] = -2;
  }

  /** Linear address of `frame` through slot `slot` (1 .. windowPages-1). */
  map(slot: number, frame: number): number {
    const va = this.layout.windowBase + slot * PAGE_SIZE;
    if (this.shown[slot] === frame) return va;
    const pte = this.layout.windowBase + slot * this.layout.entryBytes;
    if (this.layout.entryBytes === 4) {
      this.cpu.write32(pte, (frame | PTE_P | PTE_RW) >>> 0);
    } else {
      this.cpu.write32(pte + 4, Math.floor(frame / 4294967296));
      this.cpu.write32(pte, ((frame % 4294967296) | PTE_P | PTE_RW) >>> 0);
    }
    this.cpu.invlpg(va);
    this.shown[slot] = frame;
    this.remaps++;
    return va;
  }

  /** Forgets a slot's frame (after the frame was freed, say). */
  forget(frame: number): void {
    for (let i = 1; i < this.shown.length; i++) if (this.shown[i] === frame) this.shown[i] = -1;
  }
}

/** Slots of the window: one per table level, then two for frame contents. */
const DATA_SLOT = 8;
const COPY_SLOT = 9;

/** Strategies that run with paging on: every entry is reached through a linear address. */
abstract class LinearAccess implements TableAccess {
  abstract readonly name: PageTableAccess;
  protected readonly wide: boolean;

  constructor(
    protected readonly cpu: Cpu,
    protected readonly layout: Layout,
    protected readonly window: FrameWindow,
  ) {
    this.wide = layout.entryBytes === 8;
  }

  /** Linear address of the entry. */
  protected abstract entryAddress(table: number, level: number, va: number, index: number): number;

  /** Linear address through which a frame's contents are reached. */
  protected frameAddress(frame: number, slot: number): number {
    return this.window.map(slot, frame);
  }

  readLow(table: number, level: number, va: number, index: number): number {
    return this.cpu.read32(this.entryAddress(table, level, va, index));
  }
  readHigh(table: number, level: number, va: number, index: number): number {
    return this.wide ? this.cpu.read32(this.entryAddress(table, level, va, index) + 4) : 0;
  }
  write(table: number, level: number, va: number, index: number, low: number, high: number): void {
    const at = this.entryAddress(table, level, va, index);
    if (!this.wide) {
      this.cpu.write32(at, low);
    } else if ((low & PTE_P) !== 0) {
      // Address bits first, present bit last.
      this.cpu.write32(at + 4, high);
      this.cpu.write32(at, low);
    } else {
      this.cpu.write32(at, low);
      this.cpu.write32(at + 4, high);
    }
  }
  frameReadLow(frame: number, index: number): number {
    return this.cpu.read32(this.frameAddress(frame, COPY_SLOT) + index * this.layout.entryBytes);
  }
  frameReadHigh(frame: number, index: number): number {
    if (!this.wide) return 0;
    return this.cpu.read32(this.frameAddress(frame, COPY_SLOT) + index * 8 + 4);
  }
  frameWrite(frame: number, index: number, low: number, high: number): void {
    const at = this.frameAddress(frame, COPY_SLOT) + index * this.layout.entryBytes;
    if (this.wide) this.cpu.write32(at + 4, high);
    this.cpu.write32(at, low);
  }
  zero(frame: number): void {
    this.cpu.fill(this.frameAddress(frame, DATA_SLOT), 0, PAGE_SIZE);
  }
  copy(dst: number, src: number): void {
    const to = this.frameAddress(dst, DATA_SLOT);
    const from = this.frameAddress(src, COPY_SLOT);
    this.cpu.copy(to, from, PAGE_SIZE);
  }
  enter(_root: number): number {
    return 0;
  }
  leave(_token: number): void {}
  tableChanged(_level: number, _va: number): void {}
}

/**
 * Every frame of RAM below `directMapLimit` is mapped at `directMapBase + physical`, so a table
 * is edited at a fixed offset; frames above the limit (high memory in 32-bit and PAE) go
 * through the window, as a 32-bit kernel's highmem mappings do.
 */
export class DirectMapAccess extends LinearAccess {
  readonly name = "direct-map" as const;
  private readonly base: number;
  private readonly limit: number;

  constructor(cpu: Cpu, layout: Layout, window: FrameWindow, ramEnd: number) {
    super(cpu, layout, window);
    this.base = layout.directMapBase;
    this.limit = Math.min(layout.directMapLimit, ramEnd);
  }

  protected entryAddress(table: number, level: number, _va: number, index: number): number {
    const at = table < this.limit ? this.base + table : this.window.map(1 + level, table);
    return at + index * this.layout.entryBytes;
  }

  protected override frameAddress(frame: number, slot: number): number {
    return frame < this.limit ? this.base + frame : this.window.map(slot, frame);
  }
}

/** Each table is mapped into a window slot (one per level) before it is edited. */
export class WindowAccess extends LinearAccess {
  readonly name = "window" as const;

  protected entryAddress(table: number, level: number, _va: number, index: number): number {
    return this.window.map(1 + level, table) + index * this.layout.entryBytes;
  }
}

/**
 * A top-level entry points at the top-level table itself, so the tables of the loaded space
 * appear as pages in one area: the PTE of `va` sits at `recursiveBase + (va >> 12) * entrySize`,
 * the entry one level up in the area's own image of that area, and so on. Only the space in CR3
 * is reachable this way; `enter` loads another space's tables for the length of an edit. In PAE
 * the four page directories are the recursive entries (508..511 of the kernel directory); the
 * PDPT itself is reached through the window.
 */
export class RecursiveAccess extends LinearAccess {
  readonly name = "recursive" as const;
  /** Start of each level's image in the recursive area, and the span one of its entries covers. */
  private readonly levelBase: Float64Array;
  private readonly levelSpan: Float64Array;

  constructor(cpu: Cpu, layout: Layout, window: FrameWindow) {
    super(cpu, layout, window);
    const levels = layout.levels;
    this.levelBase = new Float64Array(levels);
    this.levelSpan = new Float64Array(levels);
    // Bottom-up: the PTEs fill the recursive area; each level above is the image of the level
    // below's own entries, found where the area maps itself.
    for (let level = levels - 1; level >= 0; level--) {
      this.levelSpan[level] = 2 ** layout.shifts[level]!;
      this.levelBase[level] =
        level === levels - 1
          ? layout.recursiveBase
          : this.levelBase[level + 1]! +
            Math.floor(layout.recursiveBase / this.levelSpan[level + 1]!) * layout.entryBytes;
    }
  }

  protected entryAddress(table: number, level: number, va: number, index: number): number {
    if (level === 0 && this.layout.mode === "pae") {
      return this.window.map(1, table) + index * 8;
    }
    // Entries of a level are contiguous over the whole linear space: entry number
    // floor(va / span) of the level, so the table's own index is implied by va.
    const span = this.levelSpan[level]!;
    const entry = Math.floor(va / span);
    const first = entry - (entry % this.layout.entries[level]!);
    return this.levelBase[level]! + (first + index) * this.layout.entryBytes;
  }

  override enter(root: number): number {
    const cpu = this.cpu;
    const loaded = cpu.cr3;
    if (loaded === root) return -1;
    cpu.setCr3(root);
    return loaded;
  }

  override leave(token: number): void {
    if (token >= 0) this.cpu.setCr3(token);
  }

  override tableChanged(level: number, va: number): void {
    // The page of the recursive area showing the table below the changed entry.
    const below = level + 1;
    if (below >= this.layout.levels) return;
    const span = this.levelSpan[below]!;
    const entry = Math.floor(va / span);
    const first = entry - (entry % this.layout.entries[below]!);
    this.cpu.invlpg(this.levelBase[below]! + first * this.layout.entryBytes);
  }
}
