import {
  AllocatorError,
  e820TypeNumber,
  type MemoryMap,
  type MemoryMapEntry,
} from "@allockit/core";
import { viewOf, readU64, writeU64 } from "./binary.js";
import { e820Entry } from "./e820.js";

/**
 * The Multiboot (version 0.6.96) memory map: the buffer at mmap_addr, mmap_length bytes long,
 * of entries laid out as
 *
 *   offset 0   u32 size       bytes in the entry after this field (20 for the standard entry)
 *   offset 4   u64 base_addr
 *   offset 12  u64 length
 *   offset 20  u32 type       1 available RAM, 3 ACPI, 4 preserve on hibernation, 5 defective,
 *                             anything else reserved
 *
 * The spec places mmap_addr at the size field, so a standard entry is 24 bytes apart from the
 * next; a reader must step by size + 4, which lets a loader add fields to its entries.
 */

/** Value of the size field of a standard entry: base_addr, length and type. */
export const MULTIBOOT1_MMAP_ENTRY_SIZE = 20;
/** Bytes from one standard entry to the next: the size field plus its value. */
export const MULTIBOOT1_MMAP_ENTRY_STRIDE = 24;
/** multiboot_info.flags bits for the fields this module produces. */
export const MULTIBOOT1_INFO_MEMORY = 1 << 0;
export const MULTIBOOT1_INFO_MEM_MAP = 1 << 6;

/** Field offsets within an entry, counted from its size field. */
export const MULTIBOOT1_MMAP_OFFSETS = {
  size: 0,
  baseAddr: 4,
  length: 12,
  type: 20,
} as const;

const SIZE_FIELD_BYTES = 4;

/**
 * The mmap buffer for `map`: one standard 24-byte entry per map entry, in the given order.
 * Its length is mmap_length. EINVAL for an entry whose base or length is not an integer in
 * 0 .. 2^53-1 (the value is named), or an unknown entry without a raw type number.
 */
export function encodeMultiboot1MemoryMap(map: MemoryMap): Uint8Array {
  const bytes = new Uint8Array(map.length * MULTIBOOT1_MMAP_ENTRY_STRIDE);
  const view = viewOf(bytes, "buffer");
  map.forEach((entry, index) => {
    const at = index * MULTIBOOT1_MMAP_ENTRY_STRIDE;
    view.setUint32(at + MULTIBOOT1_MMAP_OFFSETS.size, MULTIBOOT1_MMAP_ENTRY_SIZE, true);
    writeU64(view, at + MULTIBOOT1_MMAP_OFFSETS.baseAddr, entry.base, `entry ${index} base_addr`);
    writeU64(view, at + MULTIBOOT1_MMAP_OFFSETS.length, entry.length, `entry ${index} length`);
    view.setUint32(at + MULTIBOOT1_MMAP_OFFSETS.type, e820TypeNumber(entry), true);
  });
  return bytes;
}

/**
 * The entries of an mmap buffer (all of `buffer` is taken as mmap_length bytes). Each entry is
 * read at its own stride, size + 4, so entries larger than the standard 20 bytes are read
 * correctly and their extra bytes ignored. EINVAL for an entry whose size is below 20, that
 * runs past the end of the buffer, or whose base_addr or length is 2^53 or more.
 */
export function decodeMultiboot1MemoryMap(buffer: Uint8Array | DataView): MemoryMapEntry[] {
  const view = viewOf(buffer, "multiboot1 mmap buffer");
  const entries: MemoryMapEntry[] = [];
  let at = 0;
  while (at < view.byteLength) {
    if (at + SIZE_FIELD_BYTES > view.byteLength) {
      throw new AllocatorError(
        "EINVAL",
        `multiboot1 mmap: ${view.byteLength - at} stray bytes at offset ${at} after the last entry (mmap_length ${view.byteLength})`,
        at,
      );
    }
    const size = view.getUint32(at + MULTIBOOT1_MMAP_OFFSETS.size, true);
    if (size < MULTIBOOT1_MMAP_ENTRY_SIZE) {
      throw new AllocatorError(
        "EINVAL",
        `multiboot1 mmap: entry at offset ${at} has size ${size}, below the ${MULTIBOOT1_MMAP_ENTRY_SIZE} bytes of base_addr, length and type`,
        size,
      );
    }
    const next = at + SIZE_FIELD_BYTES + size;
    if (next > view.byteLength) {
      throw new AllocatorError(
        "EINVAL",
        `multiboot1 mmap: entry at offset ${at} with size ${size} runs past mmap_length ${view.byteLength}`,
        size,
      );
    }
    const base = readU64(view, at + MULTIBOOT1_MMAP_OFFSETS.baseAddr, "multiboot1 mmap base_addr");
    const length = readU64(view, at + MULTIBOOT1_MMAP_OFFSETS.length, "multiboot1 mmap length");
    const rawType = view.getUint32(at + MULTIBOOT1_MMAP_OFFSETS.type, true);
    entries.push(e820Entry(base, length, rawType));
    at = next;
  }
  return entries;
}
