import {
  AllocatorError,
  PAGE_SIZE,
  hex,
  type FrameConstraints,
  type PhysicalMemoryManager,
} from "@allockit/core";
import { PTE_P, PTE_PS, PTE_RW, PTE_US } from "@allockit/x86-machine";
import type { Layout } from "./layout.js";
import type { TableAccess } from "./table-access.js";

const TWO_POW_32 = 4294967296;

/** Physical address held in an entry (bits 51:12; bits 31:12 in 32-bit paging). */
export function entryFrame(low: number, high: number): number {
  return (high & 0xfffff) * TWO_POW_32 + ((low & 0xfffff000) >>> 0);
}

/**
 * The page-table engine shared by every space of a VMM: walks, creates and frees tables, and
 * keeps, per table, how many of its entries are present (the count that says when a table is
 * empty and can go back to the PMM). Tables are reached only through the current `access`.
 *
 * A walk leaves its result in fields (no objects per call): the table holding the entry at the
 * level where it stopped, the entry's halves, and the path of tables above it.
 */
export class PageTables {
  access: TableAccess;
  /** Present entries per table frame. */
  private readonly present = new Map<number, number>();
  /** Tables never freed when empty: roots, PAE directories, the shared kernel tables. */
  private readonly pinned = new Set<number>();
  /** Tables a walk created, by the root it started from (freed ones subtracted). */
  private readonly created = new Map<number, number>();
  private walkRoot = 0;
  /** Tables each space owns, by root (for destroy and stats). */
  tablesTaken = 0;
  tablesFreed = 0;

  // Result of the last walk.
  /** Table holding the entry where the walk stopped, and that entry's level and index. */
  table = 0;
  level = 0;
  index = 0;
  low = 0;
  high = 0;
  /** Tables on the path from the root, by level. */
  private readonly path: Float64Array;
  private readonly pathIndex: Int32Array;
  /** Per level: 2^shift, and the entries per table (the walk divides; `%` on doubles is slow). */
  private readonly spanOf: Float64Array;
  private readonly entriesOf: Float64Array;

  private readonly constraints: readonly FrameConstraints[] | undefined;
  private readonly lowConstraints: readonly FrameConstraints[] | undefined;
  private readonly pdeFlagsUser = PTE_P | PTE_RW | PTE_US;
  private readonly pdeFlagsKernel = PTE_P | PTE_RW;

  constructor(
    readonly layout: Layout,
    private readonly pmm: PhysicalMemoryManager,
    access: TableAccess,
    ramEnd = 0,
  ) {
    this.access = access;
    this.path = new Float64Array(layout.levels);
    this.pathIndex = new Int32Array(layout.levels);
    this.spanOf = Float64Array.from(layout.shifts, (shift) => 2 ** shift);
    this.entriesOf = Float64Array.from(layout.entries);
    // Frames beyond what the mode can address (above 4 GiB in 32-bit paging, above MAXPHYADDR
    // otherwise) must not be asked for.
    this.constraints = ramEnd <= layout.physLimit ? undefined : reachable(pmm, layout.physLimit);
    this.lowConstraints = belowFourGiB(pmm);
  }

  /** One frame from the PMM that the mode can address, or 0. */
  allocFrame(): number {
    return this.allocWith(this.constraints);
  }

  /** One frame below 4 GiB (a PAE PDPT: CR3 holds 32 bits), or 0. */
  allocLowFrame(): number {
    const frame = this.allocWith(this.lowConstraints);
    if (frame !== 0 && frame + PAGE_SIZE > 2 ** 32) {
      this.pmm.freeFrames(frame, 1);
      return 0;
    }
    return frame;
  }

  private allocWith(constraints: readonly FrameConstraints[] | undefined): number {
    let frame = 0;
    if (constraints === undefined) {
      frame = this.pmm.allocFrames(1);
    } else {
      // 32-bit paging: below 4 GiB, asked for as precisely as the PMM allows.
      for (let i = 0; i < constraints.length && frame === 0; i++) {
        frame = this.pmm.allocFrames(1, constraints[i]);
      }
    }
    if (frame !== 0 && frame + PAGE_SIZE > this.layout.physLimit) {
      // Cannot be reached in this mode; give it back and report out of memory.
      this.pmm.freeFrames(frame, 1);
      return 0;
    }
    return frame;
  }

  freeFrame(frame: number): void {
    this.pmm.freeFrames(frame, 1);
  }

  /** A zeroed table frame (below 4 GiB with `low`), or 0. */
  allocTable(pin: boolean, low = false): number {
    const frame = low ? this.allocLowFrame() : this.allocFrame();
    if (frame === 0) return 0;
    this.access.zero(frame);
    this.present.set(frame, 0);
    if (pin) this.pinned.add(frame);
    this.tablesTaken++;
    return frame;
  }

  pin(table: number): void {
    this.pinned.add(table);
  }

  /** Frees a table, pinned or not (a space's root on destroy). */
  releaseTable(table: number): void {
    this.present.delete(table);
    this.pinned.delete(table);
    this.freeFrame(table);
    this.tablesFreed++;
  }

  /**
   * Walks from `root` towards the PTE of `va`. With `create`, missing tables are allocated
   * (`user` decides the U/S bit of the new entries); returns false when a table is missing (or
   * could not be allocated). Stops early at a large-page entry. On success `table`, `level`,
   * `index`, `low` and `high` describe the entry where the walk stopped.
   */
  walk(root: number, va: number, create: boolean, user: boolean): boolean {
    const layout = this.layout;
    const access = this.access;
    const last = layout.levels - 1;
    this.walkRoot = root;
    let table = root;
    for (let level = 0; ; level++) {
      // floor(va / 2^shift) mod entries, without `%` (a library call on doubles).
      const above = Math.floor(va / this.spanOf[level]!);
      const entries = this.entriesOf[level]!;
      const index = above - Math.floor(above / entries) * entries;
      this.path[level] = table;
      this.pathIndex[level] = index;
      let low = access.readLow(table, level, va, index);
      let high = access.readHigh(table, level, va, index);
      if (
        level === last ||
        ((low & (PTE_P | PTE_PS)) === (PTE_P | PTE_PS) && (level > 0 || layout.mode === "32bit"))
      ) {
        this.table = table;
        this.level = level;
        this.index = index;
        this.low = low;
        this.high = high;
        return true;
      }
      if ((low & PTE_P) === 0) {
        if (!create) return false;
        const child = this.allocTable(false);
        if (child === 0) return false;
        this.created.set(root, (this.created.get(root) ?? 0) + 1);
        low = ((child % TWO_POW_32) | (user ? this.pdeFlagsUser : this.pdeFlagsKernel)) >>> 0;
        if (layout.mode === "pae" && level === 0) low = ((child % TWO_POW_32) | PTE_P) >>> 0;
        high = Math.floor(child / TWO_POW_32);
        access.write(table, level, va, index, low, high);
        this.present.set(table, (this.present.get(table) ?? 0) + 1);
        access.tableChanged(level, va);
      }
      table = entryFrame(low, high);
    }
  }

  /** Writes the entry the last walk stopped at, keeping the present counts. */
  setEntry(va: number, low: number, high: number): void {
    const wasPresent = (this.low & PTE_P) !== 0;
    const isPresent = (low & PTE_P) !== 0;
    this.access.write(this.table, this.level, va, this.index, low, high);
    if (wasPresent !== isPresent) {
      this.present.set(this.table, (this.present.get(this.table) ?? 0) + (isPresent ? 1 : -1));
    }
    this.low = low;
    this.high = high;
  }

  /**
   * After the last walk's entry was cleared: frees the tables on its path that became empty,
   * bottom-up, clearing the entries that pointed at them. Returns how many were freed.
   */
  pruneEmpty(va: number): number {
    let freed = 0;
    for (let level = this.level; level > 0; level--) {
      const table = this.path[level]!;
      if (this.pinned.has(table) || (this.present.get(table) ?? 0) !== 0) break;
      const parent = this.path[level - 1]!;
      const index = this.pathIndex[level - 1]!;
      this.access.write(parent, level - 1, va, index, 0, 0);
      this.present.set(parent, (this.present.get(parent) ?? 1) - 1);
      this.access.tableChanged(level - 1, va);
      this.releaseTable(table);
      this.created.set(this.walkRoot, (this.created.get(this.walkRoot) ?? 1) - 1);
      freed++;
    }
    return freed;
  }

  /** Checks a table's present count against its contents; throws ECORRUPT. */
  checkTable(table: number, level: number): number {
    let count = 0;
    const entries = this.layout.entries[level]!;
    for (let i = 0; i < entries; i++) {
      if ((this.access.frameReadLow(table, i) & PTE_P) !== 0) count++;
    }
    const recorded = this.present.get(table);
    if (recorded !== count) {
      throw new AllocatorError(
        "ECORRUPT",
        `page table at ${hex(table)} (level ${level}) has ${count} present entries, but ${String(recorded)} are recorded`,
        table,
      );
    }
    return count;
  }

  /** Tables the walks from `root` created and still hold. */
  createdFrom(root: number): number {
    return this.created.get(root) ?? 0;
  }

  /** Forgets a destroyed space's root. */
  forgetRoot(root: number): void {
    this.created.delete(root);
  }

  /** Number of table frames held now. */
  tablesHeld(): number {
    return this.present.size;
  }
}

/** What to ask the PMM for a frame below `limit`. */
function reachable(
  pmm: PhysicalMemoryManager,
  limit: number,
): readonly FrameConstraints[] | undefined {
  const honoured = pmm.capabilities.constraints;
  if (honoured.has("below")) return [{ below: limit }];
  if (limit >= 2 ** 32) return belowFourGiB(pmm);
  return undefined;
}

/**
 * What to ask the PMM for a frame below 4 GiB (all of 32-bit paging's frames, a PAE PDPT):
 * "below 4 GiB" where the PMM honours it, else the DMA32 zone, then DMA.
 */
function belowFourGiB(pmm: PhysicalMemoryManager): readonly FrameConstraints[] | undefined {
  const honoured = pmm.capabilities.constraints;
  if (honoured.has("below")) return [{ below: 2 ** 32 }];
  if (honoured.has("zone")) return [{ zone: "DMA32" }, { zone: "DMA" }];
  return undefined;
}
