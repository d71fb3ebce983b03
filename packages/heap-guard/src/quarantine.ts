import { AllocatorError, PAGE_SIZE, high32, low32 } from "@allockit/core";
import type { Memory, PageSource } from "@allockit/core";
import {
  QUARANTINED_RECORD,
  Q_CAPACITY,
  Q_MAGIC,
  Q_PAGES,
  RECORD_BYTES,
  RING_HEADER_BYTES,
  RING_MAGIC,
  R_FREED,
  R_PTR_HIGH,
  R_PTR_LOW,
  R_SIZE,
  R_STATE,
} from "./layout.js";
import { pagesOf } from "./placement.js";

/**
 * The quarantine: records of freed objects, oldest first, in a ring of fixed size taken from
 * the page source when the heap is created. A freed object's record is copied in; when the
 * freed objects would hold more than `budgetPages` pages (or the ring is full) the oldest
 * records are dropped. While its record is here, a freed pointer is recognised (double free)
 * and a fault in its pages is reported as use after free.
 *
 * Each freed object spans at least one page, so a ring of `budgetPages` entries never fills
 * before the page budget does.
 */
export class QuarantineRing {
  readonly base: number;
  /** Pages of the ring itself. */
  readonly pages: number;
  /** Entries the ring holds. */
  readonly capacity: number;
  /** Oldest entry's slot. */
  head = 0;
  /** Entries held. */
  count = 0;
  /** Pages of the freed objects whose records are held. */
  heldPages = 0;

  constructor(
    source: PageSource,
    private readonly memory: Memory,
    readonly budgetPages: number,
  ) {
    this.capacity = budgetPages;
    if (budgetPages === 0) {
      this.base = 0;
      this.pages = 0;
      return;
    }
    this.pages = Math.ceil((RING_HEADER_BYTES + budgetPages * RECORD_BYTES) / PAGE_SIZE);
    this.base = source.allocPages(this.pages);
    if (this.base === 0) {
      throw new AllocatorError(
        "ENOMEM",
        `heap-guard: the page source refused the ${this.pages} page(s) of a ${budgetPages}-page quarantine`,
        this.pages,
      );
    }
    memory.write32(this.base + Q_MAGIC, RING_MAGIC);
    memory.write32(this.base + Q_PAGES, this.pages);
    memory.write32(this.base + Q_CAPACITY, budgetPages);
  }

  /** Address of the `i`-th entry, oldest first (0 <= i < count). */
  entry(i: number): number {
    return this.base + RING_HEADER_BYTES + ((this.head + i) % this.capacity) * RECORD_BYTES;
  }

  /**
   * Copies live record `record` in as a quarantined one, dropping the oldest entries to make
   * room. An object larger than the whole budget is not kept.
   */
  admit(record: number, runPages: number, freedSequence: number): void {
    if (runPages > this.budgetPages) return;
    while (
      this.count > 0 &&
      (this.count === this.capacity || this.heldPages + runPages > this.budgetPages)
    )
      this.evictOldest();
    const slot = this.entry(this.count);
    this.memory.copy(slot, record, RECORD_BYTES);
    this.memory.write32(slot + R_STATE, QUARANTINED_RECORD);
    this.memory.write32(slot + R_FREED, freedSequence);
    this.count++;
    this.heldPages += runPages;
  }

  /** Forgets the oldest freed object. */
  evictOldest(): void {
    const oldest = this.entry(0);
    this.heldPages -= pagesOf(this.memory.read32(oldest + R_SIZE));
    this.memory.write32(oldest + R_STATE, 0);
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }

  /** The newest entry for an object at exactly `ptr`, or 0. */
  findPointer(ptr: number): number {
    const lo = low32(ptr);
    const hi = high32(ptr);
    for (let i = this.count - 1; i >= 0; i--) {
      const entry = this.entry(i);
      if (
        this.memory.read32(entry + R_PTR_LOW) === lo &&
        this.memory.read32(entry + R_PTR_HIGH) === hi
      )
        return entry;
    }
    return 0;
  }
}
