import { PAGE_SIZE } from "@allockit/core";
import type { Memory, PageSource } from "@allockit/core";
import { BUCKET_FLAGS, KIND_MASK, pageOptionsFor } from "./flags.js";
import {
  BK_FIRST,
  BK_FLAGS,
  BK_FREE_COUNT,
  BK_FREE_HEAD,
  BK_LARGEST,
  BK_MAGIC,
  BK_NEXT,
  BK_PAGES,
  BK_PEBBLES_OFFSET,
  BK_PEBBLE_COUNT,
  BK_PREV,
  BK_SIZE,
  BUCKET_MAGIC,
  CACHE_CHUNK,
  CACHE_SLOTS,
  IX_CACHE,
  MAX_BUCKET_BYTES,
  PEBBLE_HEADER_BYTES,
  PB_FREE_NEXT,
  PB_FREE_PREV,
  PB_NEXT,
  PB_PREV,
  PB_SIZE,
  bucketBytesFor,
  pebblesOffset,
  read64,
  write64,
} from "./layout.js";
import { fileFree, unfileFree } from "./free-index.js";
import { markPebbleStart, writeFreeHeader } from "./pebbles.js";

/** Buckets are at least 64 KiB of pebble space. */
export const MIN_BUCKET_SPACE = 64 * 1024;

/**
 * The heap's buckets: runs of pages from the PageSource, linked in a list through their
 * headers, oldest first. JavaScript keeps the two ends, a lookup hint and the counters; the
 * bucket-lookup cache (one bucket per 64 KiB chunk of addresses, direct-mapped) lives in the
 * free-pebble index, in RAM.
 */
export class BucketList {
  /** The first bucket (created with the heap, never returned), 0 before that. */
  first = 0;
  /** The last bucket; new buckets are linked after it. */
  last = 0;
  count = 0;
  /** Buckets whose kind is not VIRTUAL (while 0, no search needs to look at pebble kinds). */
  otherKinds = 0;
  /** The free-pebble index (see free-index.ts); 0 until the heap has made it. */
  ix = 0;
  footprintBytes = 0;
  peakFootprintBytes = 0;
  // The last bucket found by address, so runs of nearby pointers skip the list walk.
  private cached = 0;
  private cachedEnd = 0;

  constructor(
    private readonly memory: Memory,
    private readonly source: PageSource,
    /** Pebble space of a default bucket, in bytes. */
    private readonly defaultSpace: number,
  ) {}

  /**
   * Gets a bucket with bucket flags `flags` and at least `spaceBytes` of pebble space (the
   * default size when that is larger), links it at the end of the list and returns it, or 0
   * when the source refuses. When the default size is refused, the smallest bucket that fits
   * (64 KiB of pebble space at least) is tried.
   */
  grow(flags: number, spaceBytes: number): number {
    const want = Math.max(spaceBytes, this.defaultSpace);
    let bytes = bucketBytesFor(want);
    if (bytes > MAX_BUCKET_BYTES) return 0;
    const options = pageOptionsFor(flags);
    let bucket = this.source.allocPages(bytes / PAGE_SIZE, options);
    const least = Math.max(spaceBytes, MIN_BUCKET_SPACE);
    if (bucket === 0 && least < want) {
      bytes = bucketBytesFor(least);
      bucket = this.source.allocPages(bytes / PAGE_SIZE, options);
    }
    if (bucket === 0) return 0;
    const mem = this.memory;
    initBucket(mem, bucket, bytes, flags, this.ix);
    write64(mem, bucket + BK_PREV, this.last);
    if (this.last === 0) this.first = bucket;
    else write64(mem, this.last + BK_NEXT, bucket);
    this.last = bucket;
    this.count++;
    if ((flags & KIND_MASK) !== BUCKET_FLAGS.VIRTUAL) this.otherKinds++;
    this.footprintBytes += bytes;
    if (this.footprintBytes > this.peakFootprintBytes)
      this.peakFootprintBytes = this.footprintBytes;
    return bucket;
  }

  /**
   * Unlinks a bucket (whose one pebble is free, filed in the index) and gives its pages back to
   * the source.
   */
  drop(bucket: number): void {
    const mem = this.memory;
    const first = read64(mem, bucket + BK_FIRST);
    unfileFree(mem, this.ix, first, mem.read32(first + PB_SIZE), false);
    const prev = read64(mem, bucket + BK_PREV);
    const next = read64(mem, bucket + BK_NEXT);
    if (prev === 0) this.first = next;
    else write64(mem, prev + BK_NEXT, next);
    if (next === 0) this.last = prev;
    else write64(mem, next + BK_PREV, prev);
    const bytes = mem.read32(bucket + BK_SIZE);
    mem.write32(bucket + BK_MAGIC, 0);
    if (this.cached === bucket) this.cached = this.cachedEnd = 0;
    this.forget(bucket, bytes);
    if ((mem.read32(bucket + BK_FLAGS) & KIND_MASK) !== BUCKET_FLAGS.VIRTUAL) this.otherKinds--;
    this.count--;
    this.footprintBytes -= bytes;
    this.source.freePages(bucket, bytes / PAGE_SIZE);
  }

  /**
   * The bucket figures of stats().extra, summed from the bucket headers: buckets, pebbles,
   * freePebbles, largestFree, freeBytes (data bytes in free pebbles) and persistentBuckets.
   */
  figures(liveBytes: number): Record<string, number> {
    const mem = this.memory;
    let pebbles = 0;
    let freePebbles = 0;
    let largestFree = 0;
    let persistentBuckets = 0;
    let pebbleSpace = 0;
    for (let b = this.first; b !== 0; b = read64(mem, b + BK_NEXT)) {
      pebbles += mem.read32(b + BK_PEBBLE_COUNT);
      freePebbles += mem.read32(b + BK_FREE_COUNT);
      largestFree = Math.max(largestFree, mem.read32(b + BK_LARGEST));
      if ((mem.read32(b + BK_FLAGS) & BUCKET_FLAGS.PERSISTENT) !== 0) persistentBuckets++;
      pebbleSpace += mem.read32(b + BK_SIZE) - mem.read32(b + BK_PEBBLES_OFFSET);
    }
    return {
      buckets: this.count,
      pebbles,
      freePebbles,
      largestFree,
      // Pebbles tile the pebble space: what headers and used data do not take is free.
      freeBytes: pebbleSpace - pebbles * PEBBLE_HEADER_BYTES - liveBytes,
      persistentBuckets,
    };
  }

  /**
   * The bucket containing `addr`, or 0: the JavaScript hint, then the lookup cache slot of the
   * address's 64 KiB chunk, then a walk of the list (which refills the slot).
   */
  bucketOf(addr: number): number {
    if (addr >= this.cached && addr < this.cachedEnd) return this.cached;
    const mem = this.memory;
    const slot = this.ix + IX_CACHE + (Math.floor(addr / CACHE_CHUNK) % CACHE_SLOTS) * 8;
    const hit = this.ix === 0 ? 0 : read64(mem, slot);
    if (hit !== 0 && addr >= hit) {
      const end = hit + mem.read32(hit + BK_SIZE);
      if (addr < end) {
        this.cached = hit;
        this.cachedEnd = end;
        return hit;
      }
    }
    for (let b = this.first; b !== 0; b = read64(mem, b + BK_NEXT)) {
      const end = b + mem.read32(b + BK_SIZE);
      if (addr >= b && addr < end) {
        this.cached = b;
        this.cachedEnd = end;
        if (this.ix !== 0) write64(mem, slot, b);
        return b;
      }
    }
    return 0;
  }

  /** Clears the lookup-cache slots that name `bucket` (of `bytes`). */
  private forget(bucket: number, bytes: number): void {
    const mem = this.memory;
    const firstChunk = Math.floor(bucket / CACHE_CHUNK);
    const chunks = Math.min(
      Math.floor((bucket + bytes - 1) / CACHE_CHUNK) - firstChunk + 1,
      CACHE_SLOTS,
    );
    for (let i = 0; i < chunks; i++) {
      const slot = this.ix + IX_CACHE + ((firstChunk + i) % CACHE_SLOTS) * 8;
      if (read64(mem, slot) === bucket) write64(mem, slot, 0);
    }
  }
}

/**
 * Lays out a fresh bucket of `bytes` at `bucket`: the header (not yet linked into the bucket
 * list), a cleared bitmap, and one free pebble spanning all the pebble space, filed in the
 * index `ix` (unless that is 0: the first bucket, which holds the index, files it itself).
 */
function initBucket(
  memory: Memory,
  bucket: number,
  bytes: number,
  flags: number,
  ix: number,
): void {
  const offset = pebblesOffset(bytes);
  memory.fill(bucket, 0, offset);
  const first = bucket + offset;
  const size = bytes - offset - PEBBLE_HEADER_BYTES;
  memory.write32(bucket + BK_MAGIC, BUCKET_MAGIC);
  memory.write32(bucket + BK_FLAGS, flags);
  memory.write32(bucket + BK_SIZE, bytes);
  memory.write32(bucket + BK_PEBBLES_OFFSET, offset);
  memory.write32(bucket + BK_LARGEST, size);
  memory.write32(bucket + BK_PEBBLE_COUNT, 1);
  write64(memory, bucket + BK_FIRST, first);
  write64(memory, bucket + BK_FREE_HEAD, ix);
  memory.write32(bucket + BK_FREE_COUNT, 1);
  memory.write32(bucket + BK_PAGES, bytes / PAGE_SIZE);
  // BK_PREV and BK_NEXT are zero from the fill; the list links the bucket in.
  writeFreeHeader(memory, bucket, first, size, flags & KIND_MASK);
  write64(memory, first + PB_PREV, 0);
  write64(memory, first + PB_NEXT, 0);
  write64(memory, first + PB_FREE_NEXT, 0);
  write64(memory, first + PB_FREE_PREV, 0);
  markPebbleStart(memory, bucket, first, true);
  if (ix !== 0) fileFree(memory, ix, first, size);
}
