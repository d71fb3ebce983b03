import { PAGE_SIZE, alignUp, high32, low32 } from "@allockit/core";
import type { Memory } from "@allockit/core";

/**
 * The in-memory layout of buckets and pebbles: magics, field offsets and the helpers that read
 * and write 64-bit pointer fields. Every structure is little-endian; every pointer field is 64
 * bits wide (two 32-bit halves), so packed 48-bit long-mode addresses fit.
 *
 *   bucket:  [bucket header, 64 B][pebble-start bitmap][zero pad to 64][pebble][pebble]...
 *   pebble:  [pebble header, 128 B][data, a multiple of 64 bytes]
 *
 * Pebbles tile the bucket from its first pebble to its end, in address order.
 */

/** "BUCK": the first word of every bucket header. */
export const BUCKET_MAGIC = 0x4255434b;
/** "ROCK": the first word of every pebble header. */
export const PEBBLE_MAGIC = 0x524f434b;
/** "USED": state word of a pebble handed out. */
export const USED_TAG = 0x55534544;
/** "FREE": state word of a free pebble. */
export const FREE_TAG = 0x46524545;

// ---- bucket header (64 bytes) ----
export const BUCKET_HEADER_BYTES = 64;
export const BK_MAGIC = 0;
/** Bucket flags: its kind (VIRTUAL / PHYSICAL and a LOW* limit) and PERSISTENT. */
export const BK_FLAGS = 4;
/** Bytes of the whole bucket, headers included (a multiple of the page size). */
export const BK_SIZE = 8;
/** Offset of the first pebble from the bucket's start. */
export const BK_PEBBLES_OFFSET = 12;
/** Data size of the bucket's largest free pebble (0 when none is free). */
export const BK_LARGEST = 16;
/** Pebbles in the bucket, used and free. */
export const BK_PEBBLE_COUNT = 20;
export const BK_PREV = 24;
export const BK_NEXT = 32;
/** The first pebble (always bucket + pebbles offset; kept as the spec's `first` link). */
export const BK_FIRST = 40;
/**
 * The free-pebble index the bucket's free pebbles are filed in (the heap's size bins; see
 * free-index.ts). It was the head of a per-bucket free list; the field and its place stayed.
 */
export const BK_FREE_HEAD = 48;
/** Free pebbles in the bucket. */
export const BK_FREE_COUNT = 56;
/** Pages the bucket spans. */
export const BK_PAGES = 60;
/** The pebble-start bitmap follows the header: one bit per 64-byte granule of the bucket. */
export const BK_BITMAP = BUCKET_HEADER_BYTES;

// ---- pebble header (128 bytes) ----
export const PEBBLE_HEADER_BYTES = 128;
export const PB_MAGIC = 0;
/** The flags the pebble was requested with (normalized); the bucket's kind when free. */
export const PB_FLAGS = 4;
/** USED_TAG or FREE_TAG. */
export const PB_STATE = 8;
/** Data bytes (a multiple of 64, at least 64): what heap_size reports. */
export const PB_SIZE = 12;
/** Bytes the caller asked for (0 when free). */
export const PB_REQUESTED = 16;
/** Alignment the data was placed at (a power of two >= 64). */
export const PB_ALIGN = 20;
export const PB_PARENT = 24;
export const PB_PREV = 32;
export const PB_NEXT = 40;
/** Links of the size bin a free pebble is filed in (0 while the pebble is used). */
export const PB_FREE_NEXT = 48;
export const PB_FREE_PREV = 56;
/** The debug name: up to 31 ASCII bytes, NUL-terminated. */
export const PB_NAME = 64;
export const NAME_BYTES = 32;

// ---- the free-pebble index (the data of a used pebble at the end of the first bucket) ----
/** Size bins: 64 exact bins (64 .. 4096 bytes), then 4 per power of two up to 2^32. */
export const EXACT_BINS = 64;
export const BIN_COUNT = EXACT_BINS + 20 * 4;
/** Bin heads: BIN_COUNT 64-bit pebble addresses. */
export const IX_HEADS = 0;
/** One bit per bin, set while the bin is not empty (whole 32-bit words). */
export const IX_BITMAP = IX_HEADS + BIN_COUNT * 8;
export const IX_BITMAP_WORDS = Math.ceil(BIN_COUNT / 32);
/** Bucket-lookup cache: 64-bit bucket addresses, one per 64 KiB chunk of addresses (mod size). */
export const IX_CACHE = IX_BITMAP + 32;
export const CACHE_SLOTS = 256;
export const CACHE_CHUNK = 65536;
/** Data bytes of the index pebble. */
export const INDEX_BYTES = Math.ceil((IX_CACHE + CACHE_SLOTS * 8) / 64) * 64;
/** Debug name of the index pebble. */
export const INDEX_NAME = "heap-bucket free index";

/** Pebble sizes are multiples of this, and pebble headers start on it. */
export const GRANULE = 64;
export const MIN_PEBBLE_DATA = GRANULE;
/** A split leaves a pebble only when its header and at least 64 data bytes fit. */
export const MIN_SPLIT = PEBBLE_HEADER_BYTES + MIN_PEBBLE_DATA;
/** The largest alignment a request may ask for: 1 MiB. */
export const MAX_ALIGN = 1024 * 1024;
/** Size fields are 32-bit: the largest bucket, in bytes. */
export const MAX_BUCKET_BYTES = 0xfffff000;

/** Bytes of the pebble-start bitmap of a bucket of `bucketBytes` (whole 32-bit words). */
export function bitmapBytes(bucketBytes: number): number {
  return Math.ceil(bucketBytes / GRANULE / 32) * 4;
}

/** Offset of the first pebble in a bucket of `bucketBytes`: header and bitmap, rounded to 64. */
export function pebblesOffset(bucketBytes: number): number {
  return alignUp(BUCKET_HEADER_BYTES + bitmapBytes(bucketBytes), GRANULE);
}

/** The smallest bucket (whole pages) whose pebble space holds `spaceBytes`. */
export function bucketBytesFor(spaceBytes: number): number {
  let bytes = alignUp(spaceBytes + pebblesOffset(spaceBytes), PAGE_SIZE);
  while (bytes - pebblesOffset(bytes) < spaceBytes) bytes += PAGE_SIZE;
  return bytes;
}

export function read64(memory: Memory, addr: number): number {
  return memory.read32(addr + 4) * 4294967296 + memory.read32(addr);
}

export function write64(memory: Memory, addr: number, value: number): void {
  memory.write32(addr, low32(value));
  memory.write32(addr + 4, high32(value));
}
