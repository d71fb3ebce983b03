import { AllocatorError, PAGE_SIZE, hex } from "@allockit/core";
import type { Memory } from "@allockit/core";
import { findCorruption } from "./corruption.js";
import {
  ALIGN_SHIFT,
  CHECKSUM_SHIFT,
  DEFAULT_ALIGN,
  FLAG_CANARY,
  FLAG_LEFT,
  FLAG_LOW_MASK,
  FLAG_ZERO_REQUEST,
  FREE_SLOT,
  LIVE_RECORD,
  MAX_ALIGN,
  MAX_OBJECT_BYTES,
  QUARANTINED_RECORD,
  Q_CAPACITY,
  Q_MAGIC,
  Q_PAGES,
  RING_MAGIC,
  R_FLAGS,
  R_FREED,
  R_LINK,
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
import { canaryFits, pagesOf, placeObject, runOf } from "./placement.js";
import type { QuarantineRing } from "./quarantine.js";
import { recordChecksum, recordPointer } from "./records.js";
import type { RecordTable } from "./records.js";
import { storedTagHash } from "./tags.js";

/** The counters the heap keeps in JavaScript, which the walk must reproduce. */
export interface GuardHeapCounters {
  readonly liveBlocks: number;
  readonly liveBytes: number;
  readonly requestedBytes: number;
  readonly runPages: number;
  readonly footprintBytes: number;
}

function corrupt(what: string, at: number): never {
  throw new AllocatorError("ECORRUPT", `heap-guard: ${what} at ${hex(at)}`, at);
}

/**
 * Checks one record's own fields (state aside): checksum, size, alignment, and that the object
 * sits where placement would put it in its run, with the canary flag placement implies.
 */
function checkRecordFields(memory: Memory, record: number): void {
  const size = memory.read32(record + R_SIZE);
  const flags = memory.read32(record + R_FLAGS);
  const ptr = recordPointer(memory, record);
  const tagHash = storedTagHash(memory, record + R_TAG);
  if (tagHash < 0) corrupt("record tag has no terminating NUL", record);
  const low = flags & 0xffff;
  const checksum = recordChecksum(size, ptr, memory.read32(record + R_SEQUENCE), low, tagHash);
  if (flags >>> CHECKSUM_SHIFT !== checksum)
    corrupt(
      `record checksum ${hex(flags >>> CHECKSUM_SHIFT)}, fields give ${hex(checksum)}`,
      record,
    );
  if ((low & FLAG_LOW_MASK & ~(FLAG_LEFT | FLAG_CANARY | FLAG_ZERO_REQUEST)) !== 0)
    corrupt(`record flags ${hex(low)}`, record);
  const alignShift = (low >>> ALIGN_SHIFT) & 0xff;
  const align = 2 ** alignShift;
  if (align < DEFAULT_ALIGN || align > MAX_ALIGN)
    corrupt(`record alignment 2^${alignShift}`, record);
  if (size < 1 || size > MAX_OBJECT_BYTES) corrupt(`record size ${size}`, record);
  if ((flags & FLAG_ZERO_REQUEST) !== 0 && size !== 1)
    corrupt(`zero-byte request placed as ${size} bytes`, record);
  const left = (flags & FLAG_LEFT) !== 0;
  if (ptr % align !== 0 || placeObject(runOf(ptr), pagesOf(size), size, align, left) !== ptr)
    corrupt(`object ${hex(ptr)} of ${size} bytes is not where its run places it`, record);
  if (canaryFits(ptr, size, left) !== ((flags & FLAG_CANARY) !== 0))
    corrupt("canary flag disagrees with the room beside the object", record);
}

/**
 * Walks every piece of the guard heap's metadata: the record table (header, records, hash
 * chains, free slots), the quarantine ring, the slack and canary of every live object, and the
 * counters. Throws ECORRUPT on the first inconsistency; a changed slack or canary throws the
 * GuardViolation that heap_free would raise for it (code ECORRUPT).
 */
export function checkGuardHeap(
  memory: Memory,
  table: RecordTable,
  ring: QuarantineRing,
  counters: GuardHeapCounters,
): void {
  let live = 0;
  let liveBytes = 0;
  let requested = 0;
  let runPages = 0;
  if (table.pages === 0) {
    if (table.used !== 0 || table.highWater !== 0) corrupt("records without a table", 0);
  } else {
    const base = table.base;
    if (memory.read32(base + T_MAGIC) !== TABLE_MAGIC)
      corrupt(`table magic ${hex(memory.read32(base + T_MAGIC))}`, base);
    if (
      memory.read32(base + T_PAGES) !== table.pages ||
      memory.read32(base + T_CAPACITY) !== table.capacity ||
      memory.read32(base + T_BUCKETS) !== table.buckets
    )
      corrupt("table header (pages, capacity or buckets)", base);
    if (table.highWater > table.capacity) corrupt("table high-water mark", base);
    let free = 0;
    for (let i = 0; i < table.highWater; i++) {
      const record = table.recordAt(i);
      const state = memory.read32(record + R_STATE);
      if (state === FREE_SLOT) {
        free++;
        continue;
      }
      if (state !== LIVE_RECORD) corrupt(`record state ${hex(state)}`, record);
      checkRecordFields(memory, record);
      if (memory.read32(record + R_FREED) !== 0) corrupt("live record has a free number", record);
      const size = memory.read32(record + R_SIZE);
      const flags = memory.read32(record + R_FLAGS);
      const ptr = recordPointer(memory, record);
      const violation = findCorruption(memory, record, ptr, size, flags);
      if (violation !== undefined) throw violation;
      live++;
      liveBytes += size;
      if ((flags & FLAG_ZERO_REQUEST) === 0) requested += size;
      runPages += pagesOf(size);
    }
    checkChains(memory, table, live);
    checkFreeSlots(memory, table, free);
    if (live !== table.used) corrupt(`table counts ${table.used} records, holds ${live}`, base);
  }
  checkRing(memory, ring);
  if (
    live !== counters.liveBlocks ||
    liveBytes !== counters.liveBytes ||
    requested !== counters.requestedBytes ||
    runPages !== counters.runPages
  )
    corrupt(
      `live counters (${live} objects / ${liveBytes} B walked, ${counters.liveBlocks} / ${counters.liveBytes} counted)`,
      table.base,
    );
  if ((table.pages + ring.pages + runPages) * PAGE_SIZE !== counters.footprintBytes)
    corrupt("footprint", table.base);
}

/** Every live record sits in exactly the chain of its address's bucket. */
function checkChains(memory: Memory, table: RecordTable, live: number): void {
  let chained = 0;
  for (let b = 0; b < table.buckets; b++) {
    const bucket = table.base + TABLE_HEADER_BYTES + 4 * b;
    for (let next = memory.read32(bucket); next !== 0;) {
      if (next > table.highWater) corrupt(`hash link ${next} beyond the records`, bucket);
      if (++chained > live)
        corrupt("hash chains hold more than the live records (a loop?)", bucket);
      const record = table.recordAt(next - 1);
      if (memory.read32(record + R_STATE) !== LIVE_RECORD)
        corrupt("hash chain reaches a record that is not live", record);
      if (table.bucketAddress(recordPointer(memory, record)) !== bucket)
        corrupt("record chained in the wrong bucket", record);
      next = memory.read32(record + R_LINK);
    }
  }
  if (chained !== live) corrupt(`hash chains hold ${chained} of ${live} live records`, table.base);
}

/** The free-slot list holds exactly the free slots. */
function checkFreeSlots(memory: Memory, table: RecordTable, free: number): void {
  let listed = 0;
  for (let next = table.freeHead; next !== 0;) {
    if (next > table.highWater) corrupt(`free-slot link ${next} beyond the records`, table.base);
    if (++listed > free) corrupt("free-slot list longer than the free slots (a loop?)", table.base);
    const record = table.recordAt(next - 1);
    if (memory.read32(record + R_STATE) !== FREE_SLOT)
      corrupt("free-slot list reaches a slot that is not free", record);
    next = memory.read32(record + R_LINK);
  }
  if (listed !== free) corrupt(`free-slot list holds ${listed} of ${free} free slots`, table.base);
}

/** The ring's header, its entries (quarantined, intact) and its page count. */
function checkRing(memory: Memory, ring: QuarantineRing): void {
  if (ring.capacity === 0) {
    if (ring.count !== 0 || ring.heldPages !== 0) corrupt("quarantine without a ring", 0);
    return;
  }
  const base = ring.base;
  if (memory.read32(base + Q_MAGIC) !== RING_MAGIC)
    corrupt(`quarantine ring magic ${hex(memory.read32(base + Q_MAGIC))}`, base);
  if (
    memory.read32(base + Q_PAGES) !== ring.pages ||
    memory.read32(base + Q_CAPACITY) !== ring.capacity
  )
    corrupt("quarantine ring header", base);
  if (ring.count > ring.capacity || ring.head >= ring.capacity)
    corrupt("quarantine ring head or count", base);
  let held = 0;
  let lastFreed = 0;
  for (let i = 0; i < ring.count; i++) {
    const entry = ring.entry(i);
    const state = memory.read32(entry + R_STATE);
    if (state !== QUARANTINED_RECORD) corrupt(`quarantined record state ${hex(state)}`, entry);
    checkRecordFields(memory, entry);
    const freed = memory.read32(entry + R_FREED);
    if (freed <= lastFreed) corrupt("quarantine out of free order", entry);
    lastFreed = freed;
    held += pagesOf(memory.read32(entry + R_SIZE));
  }
  if (held !== ring.heldPages || held > ring.budgetPages)
    corrupt(`quarantine holds ${held} pages, ${ring.heldPages} counted`, base);
}
