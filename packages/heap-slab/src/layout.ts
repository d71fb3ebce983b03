/**
 * Every byte layout of the slab heap, in one place. All multi-byte fields are little-endian;
 * every address field is 64 bits wide, written as two 32-bit halves.
 */

import { PAGE_SIZE } from "@allockit/core";

export { PAGE_SIZE };

// ---- slab header (64 bytes) ----
//
// On-slab (small objects): in the last 64 bytes of the slab's one page, with the allocated-object
// bitmap, the requested-size array and the bufctls just below it. Off-slab (large objects): an object of the
// internal "slab-headers" cache, with the bitmap, bufctls and requested sizes after it.

export const SLAB_HEADER_BYTES = 64;
/** "SLAB" */
export const SLAB_MAGIC = 0x534c4142;
/** u32 SLAB_MAGIC; zeroed when the slab is released. */
export const S_MAGIC = 0;
/** u32 id of the cache that owns the slab. */
export const S_CACHE = 4;
/** u32 objects handed out. */
export const S_IN_USE = 8;
/** u32 colour: byte offset of the first object from the slab's base. */
export const S_COLOUR = 12;
/** u64 next slab on the same list (0 ends it). */
export const S_NEXT = 16;
/** u64 previous slab on the same list (0 at the head). */
export const S_PREV = 24;
/** u64 address of the slab's first page. */
export const S_BASE = 32;
/**
 * u64 head of the free list: the index of the first free object in the low half (the
 * geometry's noIndex, 0xff or 0xffff, = empty list); the next indexes are in the bufctls.
 */
export const S_FREE = 40;
/** u32 objects [fresh, objectsPerSlab) were never handed out: free, but not on the free list. */
export const S_FRESH = 48;
/** u32 which of the cache's lists holds the slab (LIST_PARTIAL, LIST_FULL, LIST_EMPTY). */
export const S_LIST = 52;
/** u32 pages of the slab (a copy of the cache's geometry, for check and dump). */
export const S_PAGES = 56;
/** u32 objects per slab (likewise). */
export const S_OBJECTS = 60;

export const LIST_PARTIAL = 1;
export const LIST_FULL = 2;
export const LIST_EMPTY = 3;

/** End of a free list of 1-byte bufctls (off-slab, and on-slab up to 254 objects). */
export const NO_INDEX = 0xff;

// ---- off-slab header: [header 64][bitmap 8][bufctls 64][requested sizes up to 128] ----

/** Most objects an off-slab slab holds: one bufctl byte each, a 64-bit bitmap. */
export const MAX_OFF_SLAB_OBJECTS = 64;
export const OFF_BITMAP = SLAB_HEADER_BYTES;
export const OFF_BUFCTL = OFF_BITMAP + MAX_OFF_SLAB_OBJECTS / 8;
export const OFF_REQUESTED = OFF_BUFCTL + MAX_OFF_SLAB_OBJECTS;
/** Size of an off-slab header object (requested sizes are at most 2 bytes each). */
export const OFF_SLAB_HEADER_BYTES = OFF_REQUESTED + 2 * MAX_OFF_SLAB_OBJECTS;

// ---- slab sizes ----

/** Largest slab, in pages; it bounds the object size of a cache. */
export const MAX_SLAB_PAGES = 32;
/** Largest object a cache can hold. */
export const MAX_OBJECT_SIZE = MAX_SLAB_PAGES * PAGE_SIZE;
/** Largest alignment a cache can give its objects (slabs start on page boundaries). */
export const MAX_CACHE_ALIGN = PAGE_SIZE;
/** Smallest object alignment: a free object holds a 64-bit link. */
export const MIN_ALIGN = 8;
/** A large slab may waste at most 1/WASTE_DIVISOR of its bytes (Bonwick's 12.5%). */
export const WASTE_DIVISOR = 8;

// ---- page-ownership table entry (16 bytes), open addressing, linear probing ----

export const TABLE_ENTRY_BYTES = 16;
/** u32 page number, low 32 bits. */
export const T_KEY_LOW = 0;
/** u32 page number bits 32.. in bits 0-23, entry kind in bits 24-31 (0 = empty slot). */
export const T_KEY_HIGH = 4;
/**
 * Kinds SLAB and PAGE_SLAB: u64 address of the slab header. Kind RUN: u32 pages, then u32
 * requested size.
 */
export const T_VALUE = 8;
export const T_VALUE_HIGH = 12;

/** A page of a multi-page or off-slab slab: the header is wherever the value says. */
export const KIND_SLAB = 1;
export const KIND_RUN = 2;
/**
 * The one page of an on-slab slab: its header is the page's last SLAB_HEADER_BYTES (the value
 * says so too), so a lookup need not read the value.
 */
export const KIND_PAGE_SLAB = 3;
/** Multiplier of the kind in the T_KEY_HIGH word. */
export const KIND_SHIFT = 0x1000000;

/** Entries of the smallest table (one page). */
export const MIN_TABLE_ENTRIES = PAGE_SIZE / TABLE_ENTRY_BYTES;

// ---- page runs ----

/** Largest heap_alloc request, in bytes: a run's size must fit a 32-bit field. */
export const MAX_RUN_BYTES = 0xfffff000;
