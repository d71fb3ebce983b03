import {
  AllocatorError,
  alignUp,
  describeValue,
  e820TypeNumber,
  type MemoryMap,
  type MemoryMapEntry,
} from "@allockit/core";
import type { MultibootBasicMemory } from "./basic-memory.js";
import { readU64, viewOf, writeU64 } from "./binary.js";
import { e820Entry } from "./e820.js";

/**
 * Multiboot2 boot information (specification 2.0): a header
 *
 *   offset 0  u32 total_size   bytes of the whole structure, end tag included
 *   offset 4  u32 reserved     0
 *
 * then tags, each starting on an 8-byte boundary with `u32 type, u32 size` (size counts the
 * header but not the padding after the tag), closed by the end tag {type 0, size 8}.
 *
 * The memory-map tag (type 6):
 *
 *   offset 0   u32 type = 6
 *   offset 4   u32 size = 16 + entries * entry_size
 *   offset 8   u32 entry_size = 24
 *   offset 12  u32 entry_version = 0
 *   offset 16  entries: u64 base_addr, u64 length, u32 type, u32 reserved (0)
 *
 * A reader steps by entry_size, not 24, so that later versions can grow the entries.
 */

export const MULTIBOOT2_TAG_TYPE = {
  END: 0,
  CMDLINE: 1,
  BOOT_LOADER_NAME: 2,
  BASIC_MEMINFO: 4,
  MMAP: 6,
} as const;

/** Tags start on 8-byte boundaries. */
export const MULTIBOOT2_TAG_ALIGN = 8;
export const MULTIBOOT2_TAG_HEADER_SIZE = 8;
export const MULTIBOOT2_INFO_HEADER_SIZE = 8;
export const MULTIBOOT2_END_TAG_SIZE = 8;
export const MULTIBOOT2_MMAP_HEADER_SIZE = 16;
export const MULTIBOOT2_MMAP_ENTRY_SIZE = 24;
export const MULTIBOOT2_MMAP_ENTRY_VERSION = 0;
/** Field offsets within a memory-map entry. */
export const MULTIBOOT2_MMAP_ENTRY_OFFSETS = {
  baseAddr: 0,
  length: 8,
  type: 16,
  reserved: 20,
} as const;

/** Bytes of base_addr, length and type: the least an entry can hold. */
const MMAP_ENTRY_MIN_SIZE = 20;
const BASIC_MEMINFO_SIZE = 16;

function invalid(message: string, value: unknown): AllocatorError {
  return new AllocatorError("EINVAL", `multiboot2: ${message}`, value);
}

// ---- tags ----

/** A tag: the 8-byte header {type, size = 8 + payload bytes} followed by the payload. */
export function encodeMultiboot2Tag(type: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xffffffff) {
    throw invalid(`tag type ${describeValue(type)} is not a u32`, type);
  }
  const bytes = new Uint8Array(MULTIBOOT2_TAG_HEADER_SIZE + payload.length);
  const view = viewOf(bytes, "tag");
  view.setUint32(0, type, true);
  view.setUint32(4, bytes.length, true);
  bytes.set(payload, MULTIBOOT2_TAG_HEADER_SIZE);
  return bytes;
}

/** The basic memory information tag (type 4): u32 mem_lower, u32 mem_upper, in KiB. */
export function encodeMultiboot2BasicMemInfoTag(memory: MultibootBasicMemory): Uint8Array {
  const payload = new Uint8Array(BASIC_MEMINFO_SIZE - MULTIBOOT2_TAG_HEADER_SIZE);
  const view = viewOf(payload, "payload");
  view.setUint32(0, checkU32(memory.memLowerKiB, "mem_lower"), true);
  view.setUint32(4, checkU32(memory.memUpperKiB, "mem_upper"), true);
  return encodeMultiboot2Tag(MULTIBOOT2_TAG_TYPE.BASIC_MEMINFO, payload);
}

function checkU32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw invalid(`${what} ${describeValue(value)} is not a u32`, value);
  }
  return value;
}

/**
 * The memory-map tag (type 6) for `map`, entries in the given order, entry_size 24,
 * entry_version 0, reserved fields 0. EINVAL for a base or length that is not an integer in
 * 0 .. 2^53-1 (the value is named), or an unknown entry without a raw type number.
 */
export function encodeMultiboot2MemoryMapTag(map: MemoryMap): Uint8Array {
  const size = MULTIBOOT2_MMAP_HEADER_SIZE + map.length * MULTIBOOT2_MMAP_ENTRY_SIZE;
  const bytes = new Uint8Array(size);
  const view = viewOf(bytes, "tag");
  view.setUint32(0, MULTIBOOT2_TAG_TYPE.MMAP, true);
  view.setUint32(4, size, true);
  view.setUint32(8, MULTIBOOT2_MMAP_ENTRY_SIZE, true);
  view.setUint32(12, MULTIBOOT2_MMAP_ENTRY_VERSION, true);
  map.forEach((entry, index) => {
    const at = MULTIBOOT2_MMAP_HEADER_SIZE + index * MULTIBOOT2_MMAP_ENTRY_SIZE;
    writeU64(
      view,
      at + MULTIBOOT2_MMAP_ENTRY_OFFSETS.baseAddr,
      entry.base,
      `entry ${index} base_addr`,
    );
    writeU64(
      view,
      at + MULTIBOOT2_MMAP_ENTRY_OFFSETS.length,
      entry.length,
      `entry ${index} length`,
    );
    view.setUint32(at + MULTIBOOT2_MMAP_ENTRY_OFFSETS.type, e820TypeNumber(entry), true);
    view.setUint32(at + MULTIBOOT2_MMAP_ENTRY_OFFSETS.reserved, 0, true);
  });
  return bytes;
}

/**
 * The entries of a memory-map tag that starts at byte 0 of `tag` and is `size` bytes long (its
 * own size field). Entries are read at entry_size strides; entry_version and the reserved field
 * are ignored, as the spec asks. EINVAL for a tag that is not type 6, a size or entry_size that
 * does not fit, or a base_addr or length of 2^53 or more.
 */
export function decodeMultiboot2MemoryMapTag(tag: Uint8Array | DataView): MemoryMapEntry[] {
  const view = viewOf(tag, "memory-map tag");
  if (view.byteLength < MULTIBOOT2_MMAP_HEADER_SIZE) {
    throw invalid(
      `memory-map tag of ${view.byteLength} bytes is shorter than its 16-byte header`,
      view.byteLength,
    );
  }
  const type = view.getUint32(0, true);
  if (type !== MULTIBOOT2_TAG_TYPE.MMAP) {
    throw invalid(`tag type ${type} is not the memory-map tag type 6`, type);
  }
  const size = view.getUint32(4, true);
  if (size < MULTIBOOT2_MMAP_HEADER_SIZE || size > view.byteLength) {
    throw invalid(`memory-map tag size ${size} is outside 16 .. ${view.byteLength}`, size);
  }
  const entrySize = view.getUint32(8, true);
  if (entrySize < MMAP_ENTRY_MIN_SIZE) {
    throw invalid(
      `memory-map entry_size ${entrySize} is below the 20 bytes of an entry`,
      entrySize,
    );
  }
  const entriesBytes = size - MULTIBOOT2_MMAP_HEADER_SIZE;
  if (entriesBytes % entrySize !== 0) {
    throw invalid(
      `memory-map tag size ${size} leaves ${entriesBytes} bytes of entries, not a multiple of entry_size ${entrySize}`,
      size,
    );
  }
  const entries: MemoryMapEntry[] = [];
  for (let at = MULTIBOOT2_MMAP_HEADER_SIZE; at < size; at += entrySize) {
    const base = readU64(view, at + MULTIBOOT2_MMAP_ENTRY_OFFSETS.baseAddr, "memory-map base_addr");
    const length = readU64(view, at + MULTIBOOT2_MMAP_ENTRY_OFFSETS.length, "memory-map length");
    entries.push(
      e820Entry(base, length, view.getUint32(at + MULTIBOOT2_MMAP_ENTRY_OFFSETS.type, true)),
    );
  }
  return entries;
}

// ---- the information structure ----

/**
 * The boot information structure holding `tags` (each as encoded above, its size field equal
 * to its length), each padded to 8 bytes, then the end tag. EINVAL for a tag whose header is
 * missing or whose size field disagrees with its length, or an end tag among `tags` (it is
 * added here).
 */
export function encodeMultiboot2Info(tags: readonly Uint8Array[]): Uint8Array {
  let totalSize = MULTIBOOT2_INFO_HEADER_SIZE;
  tags.forEach((tag, index) => {
    const view = viewOf(tag, `tag ${index}`);
    if (view.byteLength < MULTIBOOT2_TAG_HEADER_SIZE) {
      throw invalid(`tag ${index} is ${view.byteLength} bytes, shorter than a tag header`, tag);
    }
    const type = view.getUint32(0, true);
    const size = view.getUint32(4, true);
    if (type === MULTIBOOT2_TAG_TYPE.END) {
      throw invalid(`tag ${index} is an end tag; the end tag is added after the last tag`, type);
    }
    if (size !== view.byteLength) {
      throw invalid(
        `tag ${index} (type ${type}) has size field ${size} but ${view.byteLength} bytes`,
        size,
      );
    }
    totalSize += alignUp(size, MULTIBOOT2_TAG_ALIGN);
  });
  totalSize += MULTIBOOT2_END_TAG_SIZE;

  const bytes = new Uint8Array(totalSize);
  const view = viewOf(bytes, "info");
  view.setUint32(0, totalSize, true);
  view.setUint32(4, 0, true);
  let at = MULTIBOOT2_INFO_HEADER_SIZE;
  for (const tag of tags) {
    bytes.set(tag, at);
    at += alignUp(tag.length, MULTIBOOT2_TAG_ALIGN);
  }
  view.setUint32(at, MULTIBOOT2_TAG_TYPE.END, true);
  view.setUint32(at + 4, MULTIBOOT2_END_TAG_SIZE, true);
  return bytes;
}

/** Where one tag sits in the information structure. */
export interface Multiboot2TagRef {
  type: number;
  /** Byte offset of the tag header from the start of the structure. */
  offset: number;
  /** The tag's size field (without padding). */
  size: number;
}

export interface Multiboot2Info {
  totalSize: number;
  /** Every tag before the end tag, in order. */
  tags: Multiboot2TagRef[];
  /** The entries of the first memory-map tag, if there is one. */
  memoryMap?: MemoryMapEntry[];
  /** mem_lower / mem_upper of the first basic memory information tag, if there is one. */
  basicMemory?: MultibootBasicMemory;
}

/**
 * Walks the tags of a boot information structure that starts at byte 0 of `info`: from offset
 * 8, each tag is skipped by its size rounded up to 8, until the end tag. Decodes the first
 * memory-map tag and the first basic memory information tag. EINVAL for a total_size that is
 * too small or larger than the buffer, a tag whose size is below 8 or that runs past
 * total_size, a missing end tag, or an end tag whose size is not 8.
 */
export function decodeMultiboot2Info(info: Uint8Array | DataView): Multiboot2Info {
  const view = viewOf(info, "multiboot2 information");
  if (view.byteLength < MULTIBOOT2_INFO_HEADER_SIZE) {
    throw invalid(
      `information of ${view.byteLength} bytes is shorter than its 8-byte header`,
      view.byteLength,
    );
  }
  const totalSize = view.getUint32(0, true);
  const minimum = MULTIBOOT2_INFO_HEADER_SIZE + MULTIBOOT2_END_TAG_SIZE;
  if (totalSize < minimum || totalSize > view.byteLength) {
    throw invalid(
      `total_size ${totalSize} is outside ${minimum} .. ${view.byteLength} (the buffer)`,
      totalSize,
    );
  }
  const result: Multiboot2Info = { totalSize, tags: [] };
  let at = MULTIBOOT2_INFO_HEADER_SIZE;
  for (;;) {
    if (at + MULTIBOOT2_TAG_HEADER_SIZE > totalSize) {
      throw invalid(
        `no end tag before total_size ${totalSize} (next tag would start at ${at})`,
        at,
      );
    }
    const type = view.getUint32(at, true);
    const size = view.getUint32(at + 4, true);
    if (size < MULTIBOOT2_TAG_HEADER_SIZE || at + size > totalSize) {
      throw invalid(
        `tag at offset ${at} (type ${type}) has size ${size}, outside 8 .. ${totalSize - at}`,
        size,
      );
    }
    if (type === MULTIBOOT2_TAG_TYPE.END) {
      if (size !== MULTIBOOT2_END_TAG_SIZE) {
        throw invalid(`end tag at offset ${at} has size ${size}, not 8`, size);
      }
      return result;
    }
    result.tags.push({ type, offset: at, size });
    const tag = new DataView(view.buffer, view.byteOffset + at, size);
    if (type === MULTIBOOT2_TAG_TYPE.MMAP && result.memoryMap === undefined) {
      result.memoryMap = decodeMultiboot2MemoryMapTag(tag);
    } else if (type === MULTIBOOT2_TAG_TYPE.BASIC_MEMINFO && result.basicMemory === undefined) {
      if (size < BASIC_MEMINFO_SIZE) {
        throw invalid(
          `basic memory information tag at offset ${at} has size ${size}, not 16`,
          size,
        );
      }
      result.basicMemory = {
        memLowerKiB: tag.getUint32(8, true),
        memUpperKiB: tag.getUint32(12, true),
      };
    }
    at += alignUp(size, MULTIBOOT2_TAG_ALIGN);
  }
}
