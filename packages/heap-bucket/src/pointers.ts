import { AllocatorError, describeValue, hex } from "@allockit/core";
import type { Memory } from "@allockit/core";
import {
  BK_PEBBLES_OFFSET,
  BK_SIZE,
  FREE_TAG,
  GRANULE,
  MIN_SPLIT,
  PEBBLE_HEADER_BYTES,
  PEBBLE_MAGIC,
  PB_MAGIC,
  PB_NEXT,
  PB_PARENT,
  PB_SIZE,
  PB_STATE,
  read64,
} from "./layout.js";
import { isPebbleStart } from "./pebbles.js";

/**
 * Raises the right error for a pointer that is not the data of a used pebble: EFAULT for a
 * pointer outside every bucket, in bucket metadata, in a pebble header or inside a used
 * pebble's data; EDOUBLEFREE for a freed pebble or free memory; ECORRUPT when the bitmap marks
 * a pebble header there whose magic or parent link is wrong. `bucket` is the bucket holding
 * `ptr` (0 for none). This is the slow path: it may walk the bucket's pebble chain.
 */
export function rejectPointer(memory: Memory, bucket: number, call: string, ptr: number): never {
  if (bucket === 0) {
    throw new AllocatorError(
      "EFAULT",
      `${call}: pointer ${describeValue(ptr)} is not in this heap`,
      ptr,
    );
  }
  const header = ptr - PEBBLE_HEADER_BYTES;
  const offset = header - bucket;
  if (
    offset >= memory.read32(bucket + BK_PEBBLES_OFFSET) &&
    offset % GRANULE === 0 &&
    isPebbleStart(memory, bucket, header)
  ) {
    const magic = memory.read32(header + PB_MAGIC);
    const parent = read64(memory, header + PB_PARENT);
    if (
      magic === PEBBLE_MAGIC &&
      parent === bucket &&
      memory.read32(header + PB_STATE) === FREE_TAG
    ) {
      throw new AllocatorError(
        "EDOUBLEFREE",
        `${call}: pointer ${describeValue(ptr)} was already freed (free pebble at ${hex(header)})`,
        ptr,
      );
    }
    throw new AllocatorError(
      "ECORRUPT",
      `${call}: pebble header at ${hex(header)} for pointer ${describeValue(ptr)} has magic ${hex(magic)}, parent ${hex(parent)}, state ${hex(memory.read32(header + PB_STATE))}`,
      ptr,
    );
  }
  const pebble = pebbleContaining(memory, bucket, ptr);
  if (pebble === 0) {
    throw new AllocatorError(
      "EFAULT",
      `${call}: pointer ${describeValue(ptr)} lies in the metadata of bucket ${hex(bucket)}`,
      ptr,
    );
  }
  if (memory.read32(pebble + PB_STATE) === FREE_TAG) {
    throw new AllocatorError(
      "EDOUBLEFREE",
      `${call}: pointer ${describeValue(ptr)} lies in free pebble ${hex(pebble)}: freed already, or never handed out`,
      ptr,
    );
  }
  const data = pebble + PEBBLE_HEADER_BYTES;
  const where =
    ptr < data
      ? `in the header of pebble ${hex(pebble)}`
      : `${ptr - data} bytes into the block at ${hex(data)}`;
  throw new AllocatorError(
    "EFAULT",
    `${call}: pointer ${describeValue(ptr)} is not the start of a block (${where})`,
    ptr,
  );
}

/** The pebble whose header or data holds `addr`, or 0 (bucket metadata, or a broken chain). */
function pebbleContaining(memory: Memory, bucket: number, addr: number): number {
  const size = memory.read32(bucket + BK_SIZE);
  const first = bucket + memory.read32(bucket + BK_PEBBLES_OFFSET);
  let steps = Math.floor(size / MIN_SPLIT);
  for (let p = first; p !== 0 && steps-- > 0; p = read64(memory, p + PB_NEXT)) {
    if (addr < p) return 0;
    if (addr < p + PEBBLE_HEADER_BYTES + memory.read32(p + PB_SIZE)) return p;
  }
  return 0;
}
