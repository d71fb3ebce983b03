import { PAGE_SIZE } from "@allockit/core";

/**
 * Every byte layout of the guard heap's metadata, in one place. All of it lives in pages from
 * the heap's PageSource, reached through its Memory.
 *
 * Record (64 bytes), the out-of-band description of one guarded object, live or quarantined:
 *
 *   +0  state     LIVE_RECORD, QUARANTINED_RECORD or FREE_SLOT
 *   +4  size      object size in bytes (>= 1; a 0-byte request is placed as 1 byte)
 *   +8  ptr       object address, 64-bit (low word, then high word)
 *   +16 sequence  allocation sequence number (1 = the heap's first allocation)
 *   +20 flags     bit 0 left mode, bit 1 canary present, bit 2 zero-byte request,
 *                 bits 8..15 log2(alignment), bits 16..31 checksum of the record's fields
 *   +24 link      record table: next record in the hash chain, or next free slot (index + 1)
 *   +28 freed     free sequence number (1 = the heap's first free), 0 while live
 *   +32 tag       the caller's tag: up to 31 printable ASCII bytes, NUL-terminated
 *
 * The object's page run is derived, not stored: the object always starts in the run's first
 * page, and the run has ceil(size / page) pages.
 */

export const RECORD_BYTES = 64;
export const R_STATE = 0;
export const R_SIZE = 4;
export const R_PTR_LOW = 8;
export const R_PTR_HIGH = 12;
export const R_SEQUENCE = 16;
export const R_FLAGS = 20;
export const R_LINK = 24;
export const R_FREED = 28;
export const R_TAG = 32;

/** Bytes of the tag field; a tag holds at most one less (the NUL). */
export const TAG_BYTES = 32;
/** Longest tag, in bytes. */
export const TAG_MAX = TAG_BYTES - 1;

export const LIVE_RECORD = 0x564c4847; // "GHLV"
export const QUARANTINED_RECORD = 0x55514847; // "GHQU"
export const FREE_SLOT = 0x52464847; // "GHFR"

export const FLAG_LEFT = 1;
export const FLAG_CANARY = 2;
export const FLAG_ZERO_REQUEST = 4;
export const FLAG_LOW_MASK = 0xff;
export const ALIGN_SHIFT = 8;
export const CHECKSUM_SHIFT = 16;

/**
 * Record table (a run of 2^k pages, reallocated twice as large when full):
 *
 *   +0  magic TABLE_MAGIC   +4 pages   +8 capacity (records)   +12 buckets   (64-byte header)
 *   +64 buckets: one 32-bit word per bucket, index + 1 of the first record of its chain
 *   then the records, from the first 64-byte boundary after the buckets
 */
export const TABLE_MAGIC = 0x42544847; // "GHTB"
export const TABLE_HEADER_BYTES = 64;
export const T_MAGIC = 0;
export const T_PAGES = 4;
export const T_CAPACITY = 8;
export const T_BUCKETS = 12;
/** Hash buckets per table page: a load of about one record per bucket. */
export const BUCKETS_PER_PAGE = 64;

/**
 * Quarantine ring (one run, allocated with the heap and kept for its life):
 *
 *   +0  magic RING_MAGIC   +4 pages   +8 capacity (entries)   (64-byte header)
 *   +64 entries: records (the layout above) in state QUARANTINED_RECORD, oldest at `head`
 */
export const RING_MAGIC = 0x52514847; // "GHQR"
export const RING_HEADER_BYTES = 64;
export const Q_MAGIC = 0;
export const Q_PAGES = 4;
export const Q_CAPACITY = 8;

/** The byte slack is filled with (checked on free and by check()). */
export const SLACK_BYTE = 0xaa;
/** Bytes of the canary word next to the object. */
export const CANARY_BYTES = 4;
/** Mixed into every canary so it is unlike the slack pattern and plain addresses. */
export const CANARY_SALT = 0x6b43a9b5;

/** The heap's default (and minimum) alignment. */
export const DEFAULT_ALIGN = 16;
/** The largest alignment heap_alloc accepts (a 2 MiB large page). */
export const MAX_ALIGN = 2 ** 21;
/** Largest object: sizes are 32-bit fields. */
export const MAX_OBJECT_BYTES = 0xffffffff - PAGE_SIZE;
/** Default size of the quarantine, in pages of freed objects. */
export const DEFAULT_QUARANTINE_PAGES = 256;

/**
 * Slots of the plugin's KFENCE-style pool over a VMM: 4096 one-page objects between 4097 guard
 * pages, 32 MiB of address space reserved on the first allocation (no frames until used).
 */
export const DEFAULT_POOL_SLOTS = 4096;
