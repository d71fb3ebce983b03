import { AllocatorError, TWO_POW_32, hex } from "@allockit/core";
import type { Memory } from "@allockit/core";
import {
  SLAB_HEADER_BYTES,
  KIND_PAGE_SLAB,
  KIND_RUN,
  KIND_SHIFT,
  KIND_SLAB,
  MIN_TABLE_ENTRIES,
  PAGE_SIZE,
  TABLE_ENTRY_BYTES,
  T_KEY_HIGH,
  T_KEY_LOW,
  T_VALUE,
  T_VALUE_HIGH,
} from "./layout.js";
import type { PageSupply } from "./page-supply.js";
import { read64, write64 } from "./ram.js";

const KEY_HIGH_MASK = 0xffffff;

/**
 * Which pages are the heap's, and what they hold: an open-addressing hash table (linear
 * probing, backward-shift deletion, at most half full) keyed by page number, in pages of the
 * heap's own PageSource. It plays the part of Linux's page->slab and of Bonwick's
 * buffer-to-bufctl hash: every page of every slab maps to its slab header, the first page of a
 * page run to the run's size. A page not in the table is not the heap's, with certainty.
 *
 * The table grows (doubling) before an insertion would fill it past half, shrinks when it is
 * less than an eighth full, and goes back to the PageSource when it holds nothing.
 */
export class PageOwnerTable {
  private readonly memory: Memory;
  /** Address of the table's first page (0 = no table). */
  base = 0;
  /** Pages the table occupies. */
  pages = 0;
  /** Slots (a power of two). */
  capacity = 0;
  private mask = 0;
  private shift = 32;
  /** Occupied slots. */
  count = 0;
  /** Kind of the entry the last successful find returned (saves re-reading it). */
  foundKind = 0;

  constructor(private readonly supply: PageSupply) {
    this.memory = supply.memory;
  }

  /** Home slot of a page number (Fibonacci hashing of its two halves). */
  private home(low: number, high: number): number {
    return Math.imul(low ^ Math.imul(high, 0x27d4eb2d), 0x9e3779b1) >>> this.shift;
  }

  /** Address of the entry of page `pageNumber`, or 0 when the page is not the heap's. */
  find(pageNumber: number): number {
    if (this.capacity === 0) return 0;
    const mem = this.memory;
    const high = pageNumber < TWO_POW_32 ? 0 : Math.floor(pageNumber / TWO_POW_32);
    const low = pageNumber - high * TWO_POW_32;
    const base = this.base;
    const mask = this.mask;
    let slot = this.home(low, high);
    for (let probes = 0; probes < this.capacity; probes++) {
      const entry = base + slot * TABLE_ENTRY_BYTES;
      const keyHigh = mem.read32(entry + T_KEY_HIGH);
      if (keyHigh === 0) return 0;
      if ((keyHigh & KEY_HIGH_MASK) === high && mem.read32(entry + T_KEY_LOW) === low) {
        this.foundKind = keyHigh >>> 24;
        return entry;
      }
      slot = (slot + 1) & mask;
    }
    return 0;
  }

  kindOf(entry: number): number {
    return this.memory.read32(entry + T_KEY_HIGH) >>> 24;
  }

  /** True when the entry at `entry` maps a slab page (kind SLAB or PAGE_SLAB). */
  isSlabEntry(entry: number): boolean {
    const kind = this.kindOf(entry);
    return kind === KIND_SLAB || kind === KIND_PAGE_SLAB;
  }

  /** Slab header of a KIND_SLAB entry. */
  slabOf(entry: number): number {
    return read64(this.memory, entry + T_VALUE);
  }

  /** Pages of a KIND_RUN entry. */
  runPages(entry: number): number {
    return this.memory.read32(entry + T_VALUE);
  }

  /** Requested size of a KIND_RUN entry. */
  runRequested(entry: number): number {
    return this.memory.read32(entry + T_VALUE_HIGH);
  }

  /**
   * Makes room for `extra` more entries, growing the table if needed (which may reap under
   * memory pressure). False when the pages for a bigger table cannot be had.
   */
  reserve(extra: number): boolean {
    const need = this.count + extra;
    if (need * 2 <= this.capacity) return true;
    let capacity = Math.max(this.capacity, MIN_TABLE_ENTRIES);
    while (need * 2 > capacity) capacity *= 2;
    return this.rehash(capacity, true);
  }

  /**
   * Records that page `pageNumber` belongs to the slab whose header is at `header`: kind
   * PAGE_SLAB when the slab is that one page with the header at its end, else SLAB.
   */
  insertSlab(pageNumber: number, header: number): void {
    const kind =
      header === pageNumber * PAGE_SIZE + PAGE_SIZE - SLAB_HEADER_BYTES
        ? KIND_PAGE_SLAB
        : KIND_SLAB;
    const entry = this.insertKey(pageNumber, kind);
    write64(this.memory, entry + T_VALUE, header);
  }

  /** Records a page run of `pages` pages starting at page `pageNumber`. */
  insertRun(pageNumber: number, pages: number, requested: number): void {
    const entry = this.insertKey(pageNumber, KIND_RUN);
    this.memory.write32(entry + T_VALUE, pages);
    this.memory.write32(entry + T_VALUE_HIGH, requested);
  }

  /** Removes the entry at `entry` (from find), shifting later entries of its probe run back. */
  remove(entry: number): void {
    const mem = this.memory;
    const base = this.base;
    const mask = this.mask;
    let hole = (entry - base) / TABLE_ENTRY_BYTES;
    let slot = hole;
    for (;;) {
      slot = (slot + 1) & mask;
      const at = base + slot * TABLE_ENTRY_BYTES;
      const keyHigh = mem.read32(at + T_KEY_HIGH);
      if (keyHigh === 0) break;
      const keyLow = mem.read32(at + T_KEY_LOW);
      const home = this.home(keyLow, keyHigh & KEY_HIGH_MASK);
      // The entry may fill the hole only if the hole lies on its probe path (home .. slot).
      if (((slot - home) & mask) >= ((slot - hole) & mask)) {
        const to = base + hole * TABLE_ENTRY_BYTES;
        mem.write32(to + T_KEY_LOW, keyLow);
        mem.write32(to + T_KEY_HIGH, keyHigh);
        mem.write32(to + T_VALUE, mem.read32(at + T_VALUE));
        mem.write32(to + T_VALUE_HIGH, mem.read32(at + T_VALUE_HIGH));
        hole = slot;
      }
    }
    const at = base + hole * TABLE_ENTRY_BYTES;
    mem.write32(at + T_KEY_LOW, 0);
    mem.write32(at + T_KEY_HIGH, 0);
    mem.write32(at + T_VALUE, 0);
    mem.write32(at + T_VALUE_HIGH, 0);
    this.count--;
  }

  /**
   * Gives the table back when it is empty, or halves it when it is less than an eighth full
   * (if the pages for the smaller table can be had without reaping).
   */
  compact(): void {
    if (this.capacity === 0) return;
    if (this.count === 0) {
      this.supply.release(this.base, this.pages);
      this.base = this.pages = this.capacity = this.mask = 0;
      this.shift = 32;
      return;
    }
    if (this.capacity > MIN_TABLE_ENTRIES && this.count * 8 < this.capacity) {
      this.rehash(this.capacity / 2, false);
    }
  }

  /** Calls `visit` with each occupied entry's address. */
  forEach(visit: (entry: number) => void): void {
    for (let slot = 0; slot < this.capacity; slot++) {
      const entry = this.base + slot * TABLE_ENTRY_BYTES;
      if (this.memory.read32(entry + T_KEY_HIGH) !== 0) visit(entry);
    }
  }

  /** Page number of an occupied entry. */
  pageOf(entry: number): number {
    const high = this.memory.read32(entry + T_KEY_HIGH) & KEY_HIGH_MASK;
    return high * TWO_POW_32 + this.memory.read32(entry + T_KEY_LOW);
  }

  /**
   * Checks the table's own structure: every entry has a known kind and is found by a lookup of
   * its page (so no empty slot cuts its probe path and no page appears twice), and the count of
   * occupied slots is right. Throws ECORRUPT.
   */
  verify(): void {
    let occupied = 0;
    this.forEach((entry) => {
      occupied++;
      const kind = this.kindOf(entry);
      if (kind !== KIND_SLAB && kind !== KIND_RUN && kind !== KIND_PAGE_SLAB) {
        throw new AllocatorError(
          "ECORRUPT",
          `heap-slab: page-ownership entry at ${hex(entry)} has kind ${kind}`,
          entry,
        );
      }
      const page = this.pageOf(entry);
      if (this.find(page) !== entry) {
        throw new AllocatorError(
          "ECORRUPT",
          `heap-slab: page-ownership entry at ${hex(entry)} (page ${hex(page * PAGE_SIZE)}) is unreachable or duplicated`,
          entry,
        );
      }
    });
    if (occupied !== this.count) {
      throw new AllocatorError(
        "ECORRUPT",
        `heap-slab: page-ownership table holds ${occupied} entries, ${this.count} counted`,
        this.base,
      );
    }
  }

  private insertKey(pageNumber: number, kind: number): number {
    const mem = this.memory;
    const high = pageNumber < TWO_POW_32 ? 0 : Math.floor(pageNumber / TWO_POW_32);
    const low = pageNumber - high * TWO_POW_32;
    let slot = this.home(low, high);
    let entry = this.base + slot * TABLE_ENTRY_BYTES;
    for (let probes = 1; mem.read32(entry + T_KEY_HIGH) !== 0; probes++) {
      if (probes >= this.capacity) {
        throw new AllocatorError(
          "ECORRUPT",
          `heap-slab: page-ownership table at ${hex(this.base)} has no free slot (${this.count} of ${this.capacity} counted)`,
          this.base,
        );
      }
      slot = (slot + 1) & this.mask;
      entry = this.base + slot * TABLE_ENTRY_BYTES;
    }
    mem.write32(entry + T_KEY_LOW, low);
    mem.write32(entry + T_KEY_HIGH, high + kind * KIND_SHIFT);
    this.count++;
    return entry;
  }

  /** Moves every entry into a fresh table of `capacity` slots; false when no pages. */
  private rehash(capacity: number, reapIfShort: boolean): boolean {
    const bytes = capacity * TABLE_ENTRY_BYTES;
    const pages = bytes / PAGE_SIZE;
    const addr = reapIfShort
      ? this.supply.grab(pages, PAGE_SIZE)
      : this.supply.grabOnce(pages, PAGE_SIZE);
    if (addr === 0) return false;
    const mem = this.memory;
    mem.fill(addr, 0, bytes);
    // Read the old table only now: reaping inside grab may have removed entries from it.
    const oldBase = this.base;
    const oldPages = this.pages;
    const oldCapacity = this.capacity;
    this.base = addr;
    this.pages = pages;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
    this.count = 0;
    for (let slot = 0; slot < oldCapacity; slot++) {
      const old = oldBase + slot * TABLE_ENTRY_BYTES;
      const keyHigh = mem.read32(old + T_KEY_HIGH);
      if (keyHigh === 0) continue;
      const low = mem.read32(old + T_KEY_LOW);
      const entry = this.insertKey(
        (keyHigh & KEY_HIGH_MASK) * TWO_POW_32 + low,
        Math.floor(keyHigh / KIND_SHIFT),
      );
      mem.write32(entry + T_VALUE, mem.read32(old + T_VALUE));
      mem.write32(entry + T_VALUE_HIGH, mem.read32(old + T_VALUE_HIGH));
    }
    if (oldPages !== 0) this.supply.release(oldBase, oldPages);
    return true;
  }
}
