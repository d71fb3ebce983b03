import { PAGE_SIZE } from "@allockit/core";
import type { Memory } from "@allockit/core";
import {
  ALIGN_SHIFT,
  FLAG_CANARY,
  FLAG_LEFT,
  LIVE_RECORD,
  R_FLAGS,
  R_FREED,
  R_SEQUENCE,
  R_SIZE,
  R_STATE,
  R_TAG,
} from "./layout.js";
import { pagesOf, runOf } from "./placement.js";
import type { QuarantineRing } from "./quarantine.js";
import { recordPointer } from "./records.js";
import type { RecordTable } from "./records.js";
import { readTag } from "./tags.js";
import type { GuardObjectInfo } from "./violation.js";

/**
 * Finding the object an address belongs to, for reports. These scan every record, which is
 * fine on the paths they serve: a fault, a bad free, a check. The hot paths use the hash.
 */

/** The object a record describes. */
export function readObject(memory: Memory, record: number): GuardObjectInfo {
  const address = recordPointer(memory, record);
  const size = memory.read32(record + R_SIZE);
  const flags = memory.read32(record + R_FLAGS);
  return {
    address,
    size,
    align: 2 ** ((flags >>> ALIGN_SHIFT) & 0xff),
    mode: (flags & FLAG_LEFT) !== 0 ? "left" : "right",
    tag: readTag(memory, record + R_TAG),
    sequence: memory.read32(record + R_SEQUENCE),
    freedAs: memory.read32(record + R_FREED),
    canary: (flags & FLAG_CANARY) !== 0,
    run: runOf(address),
    pages: pagesOf(size),
  };
}

/**
 * How far `address` is from the object at `ptr` of `size` bytes, if it lies in the object's
 * run or within `margin` bytes around it (its guard pages); -1 otherwise. 0 means inside the
 * object.
 */
function distance(address: number, ptr: number, size: number, margin: number): number {
  const run = runOf(ptr);
  if (address < run - margin || address >= run + pagesOf(size) * PAGE_SIZE + margin) return -1;
  if (address < ptr) return ptr - address;
  if (address >= ptr + size) return address - (ptr + size) + 1;
  return 0;
}

/**
 * The live record whose run, or the `margin` bytes of guard pages around it, hold `address`;
 * 0 when none. Should two qualify, the nearer object wins, as KFENCE decides between the
 * objects on either side of a guard page.
 */
export function coveringLive(
  memory: Memory,
  table: RecordTable,
  address: number,
  margin: number,
): number {
  let best = 0;
  let bestDistance = Infinity;
  for (let i = 0; i < table.highWater; i++) {
    const record = table.recordAt(i);
    if (memory.read32(record + R_STATE) !== LIVE_RECORD) continue;
    const d = distance(
      address,
      recordPointer(memory, record),
      memory.read32(record + R_SIZE),
      margin,
    );
    if (d >= 0 && d < bestDistance) {
      best = record;
      bestDistance = d;
    }
  }
  return best;
}

/** The newest quarantined record whose run (with `margin`) holds `address`, or 0. */
export function coveringQuarantined(
  memory: Memory,
  ring: QuarantineRing,
  address: number,
  margin: number,
): number {
  for (let i = ring.count - 1; i >= 0; i--) {
    const entry = ring.entry(i);
    const ptr = recordPointer(memory, entry);
    if (distance(address, ptr, memory.read32(entry + R_SIZE), margin) >= 0) return entry;
  }
  return 0;
}
