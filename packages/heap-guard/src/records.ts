import { PAGE_SIZE, alignUp, high32, join64, low32 } from "@allockit/core";
import type { Memory, PageSource } from "@allockit/core";
import {
  BUCKETS_PER_PAGE,
  CHECKSUM_SHIFT,
  FREE_SLOT,
  LIVE_RECORD,
  RECORD_BYTES,
  R_FLAGS,
  R_FREED,
  R_LINK,
  R_PTR_HIGH,
  R_PTR_LOW,
  R_SEQUENCE,
  R_SIZE,
  R_STATE,
  R_TAG,
  TABLE_HEADER_BYTES,
  TABLE_MAGIC,
  T_BUCKETS,
  T_CAPACITY,
  T_MAGIC,
  T_PAGES,
} from "./layout.js";
import { mixWord, writeTag } from "./tags.js";

/** The object address of a record. */
export function recordPointer(memory: Memory, record: number): number {
  return join64(memory.read32(record + R_PTR_LOW), memory.read32(record + R_PTR_HIGH));
}

/** The 16-bit checksum kept in the top of a record's flags word. */
export function recordChecksum(
  size: number,
  ptr: number,
  sequence: number,
  flagsLow: number,
  tagHash: number,
): number {
  let h = mixWord(tagHash, size);
  h = mixWord(h, low32(ptr));
  h = mixWord(h, high32(ptr));
  h = mixWord(h, sequence);
  h = mixWord(h, flagsLow & 0xffff);
  return (h ^ (h >>> 16)) & 0xffff;
}

/** Fills in a record (all fields but the link) for a new live object. */
export function writeRecord(
  memory: Memory,
  record: number,
  size: number,
  ptr: number,
  sequence: number,
  flagsLow: number,
  tag: string,
  tagHash: number,
): void {
  const checksum = recordChecksum(size, ptr, sequence, flagsLow, tagHash);
  memory.write32(record + R_STATE, LIVE_RECORD);
  memory.write32(record + R_SIZE, size);
  memory.write32(record + R_PTR_LOW, low32(ptr));
  memory.write32(record + R_PTR_HIGH, high32(ptr));
  memory.write32(record + R_SEQUENCE, sequence);
  memory.write32(record + R_FLAGS, (flagsLow | (checksum << CHECKSUM_SHIFT)) >>> 0);
  memory.write32(record + R_FREED, 0);
  writeTag(memory, record + R_TAG, tag);
}

/**
 * The table of live records: one run of 2^k pages holding a header, hash buckets keyed by the
 * object's address, and 64-byte records. Slots below `highWater` are live (in a hash chain) or
 * free (in the free-slot list); the rest were never used. When every slot is taken the table
 * moves to a run twice as large (indexes stay, the chains are rebuilt); when the last record
 * goes, the run goes back to the page source.
 *
 * JavaScript holds only the table's address and sizes, the free-list head and counts.
 */
export class RecordTable {
  base = 0;
  pages = 0;
  capacity = 0;
  buckets = 0;
  private recordsOffset = 0;
  /** Slots ever used in this run: [0, highWater). */
  highWater = 0;
  /** First free slot below highWater, as index + 1 (0 = none). */
  freeHead = 0;
  /** Live records. */
  used = 0;

  constructor(
    private readonly source: PageSource,
    private readonly memory: Memory,
  ) {}

  /** Address of slot `index`. */
  recordAt(index: number): number {
    return this.base + this.recordsOffset + index * RECORD_BYTES;
  }

  /** Address of the bucket word for `ptr`. */
  bucketAddress(ptr: number): number {
    const h = mixWord(mixWord(0x1b873593, low32(ptr)), high32(ptr));
    return this.base + TABLE_HEADER_BYTES + 4 * (h & (this.buckets - 1));
  }

  /** Whether a slot can be claimed without growing. */
  hasFreeSlot(): boolean {
    return this.freeHead !== 0 || this.highWater < this.capacity;
  }

  /**
   * Moves the records to a run twice as large (or creates the first, one page). Returns false,
   * changing nothing, when the page source refuses the run.
   */
  grow(): boolean {
    const memory = this.memory;
    const pages = this.pages === 0 ? 1 : this.pages * 2;
    const base = this.source.allocPages(pages);
    if (base === 0) return false;
    const buckets = pages * BUCKETS_PER_PAGE;
    const recordsOffset = alignUp(TABLE_HEADER_BYTES + 4 * buckets, RECORD_BYTES);
    memory.write32(base + T_MAGIC, TABLE_MAGIC);
    memory.write32(base + T_PAGES, pages);
    memory.write32(
      base + T_CAPACITY,
      Math.floor((pages * PAGE_SIZE - recordsOffset) / RECORD_BYTES),
    );
    memory.write32(base + T_BUCKETS, buckets);
    const headerUsed = T_BUCKETS + 4;
    memory.fill(base + headerUsed, 0, TABLE_HEADER_BYTES - headerUsed + 4 * buckets);
    if (this.highWater > 0) {
      memory.copy(base + recordsOffset, this.recordAt(0), this.highWater * RECORD_BYTES);
    }
    const oldBase = this.base;
    const oldPages = this.pages;
    this.base = base;
    this.pages = pages;
    this.buckets = buckets;
    this.recordsOffset = recordsOffset;
    this.capacity = memory.read32(base + T_CAPACITY);
    // Free slots keep their links (indexes did not change); live ones go into the new buckets.
    for (let i = 0; i < this.highWater; i++) {
      const record = this.recordAt(i);
      if (memory.read32(record + R_STATE) === LIVE_RECORD)
        this.link(record, i, recordPointer(memory, record));
    }
    if (oldPages !== 0) {
      memory.write32(oldBase + T_MAGIC, 0);
      this.source.freePages(oldBase, oldPages);
    }
    return true;
  }

  /** Takes a free slot (the caller made sure there is one); returns its index. */
  claim(): number {
    let index: number;
    if (this.freeHead !== 0) {
      index = this.freeHead - 1;
      this.freeHead = this.memory.read32(this.recordAt(index) + R_LINK);
    } else {
      index = this.highWater++;
    }
    this.used++;
    return index;
  }

  /** Puts live record `index`, of the object at `ptr`, at the head of its chain. */
  link(record: number, index: number, ptr: number): void {
    const bucket = this.bucketAddress(ptr);
    this.memory.write32(record + R_LINK, this.memory.read32(bucket));
    this.memory.write32(bucket, index + 1);
  }

  /** The live record of the object at `ptr`, or 0. */
  find(ptr: number): number {
    if (this.used === 0) return 0;
    const memory = this.memory;
    const lo = low32(ptr);
    const hi = high32(ptr);
    let steps = 0;
    for (let next = memory.read32(this.bucketAddress(ptr)); next !== 0;) {
      if (next > this.highWater || ++steps > this.used) return 0;
      const record = this.recordAt(next - 1);
      if (memory.read32(record + R_PTR_LOW) === lo && memory.read32(record + R_PTR_HIGH) === hi)
        return memory.read32(record + R_STATE) === LIVE_RECORD ? record : 0;
      next = memory.read32(record + R_LINK);
    }
    return 0;
  }

  /** Takes live record `record` of object `ptr` out of its chain and frees its slot. */
  remove(record: number, ptr: number): void {
    const memory = this.memory;
    const index = (record - this.recordAt(0)) / RECORD_BYTES;
    let previous = this.bucketAddress(ptr);
    for (let next = memory.read32(previous); next !== 0; next = memory.read32(previous)) {
      if (next === index + 1) {
        memory.write32(previous, memory.read32(record + R_LINK));
        break;
      }
      previous = this.recordAt(next - 1) + R_LINK;
    }
    memory.write32(record + R_STATE, FREE_SLOT);
    memory.write32(record + R_LINK, this.freeHead);
    this.freeHead = index + 1;
    this.used--;
  }

  /** Gives the run back once no record is left in it. */
  releaseIfEmpty(): void {
    if (this.used !== 0 || this.pages === 0) return;
    this.memory.write32(this.base + T_MAGIC, 0);
    this.source.freePages(this.base, this.pages);
    this.base = this.pages = this.capacity = this.buckets = this.recordsOffset = 0;
    this.highWater = this.freeHead = 0;
  }
}
