import {
  HeapCounters,
  AllocatorError,
  PAGE_SIZE,
  alignUp,
  checkPointer,
  checkSize,
  describeValue,
  effectiveAlign,
  hex,
  nextPowerOfTwo,
} from "@allockit/core";
import type { Heap, HeapStats, Memory, PageSource } from "@allockit/core";
import { BucketList } from "./buckets.js";
import { BUCKET_FLAGS, KIND_MASK, normalizeFlags, requireSupport } from "./flags.js";
import { binHead, binOf, fileFree, nextBin } from "./free-index.js";
import {
  BK_FLAGS,
  BK_FREE_HEAD,
  BK_LARGEST,
  BK_PEBBLES_OFFSET,
  BK_PEBBLE_COUNT,
  BK_SIZE,
  EXACT_BINS,
  GRANULE,
  INDEX_BYTES,
  INDEX_NAME,
  MAX_ALIGN,
  MAX_BUCKET_BYTES,
  MIN_PEBBLE_DATA,
  MIN_SPLIT,
  PEBBLE_HEADER_BYTES,
  PEBBLE_MAGIC,
  PB_ALIGN,
  PB_FLAGS,
  PB_FREE_NEXT,
  PB_MAGIC,
  PB_NAME,
  PB_PARENT,
  PB_REQUESTED,
  PB_SIZE,
  PB_STATE,
  PB_NEXT,
  PB_PREV,
  USED_TAG,
  bucketBytesFor,
  read64,
  write64,
} from "./layout.js";
import { checkName, readName, writeName } from "./names.js";
import { resolveBucketHeapOptions } from "./options.js";
import type { BucketHeapOptions, ResolvedBucketHeapOptions } from "./options.js";
import {
  carve,
  isPebbleStart,
  markPebbleStart,
  placeIn,
  release,
  resizeInPlace,
} from "./pebbles.js";
import { rejectPointer } from "./pointers.js";
import { walkHeap } from "./walk.js";
import type { WalkTotals } from "./walk.js";

const { VIRTUAL, CLEAR, PERSISTENT } = BUCKET_FLAGS;

/**
 * The FYSOS bucket allocator: a heap holds buckets, a bucket holds pebbles. Buckets are runs of
 * pages from the PageSource, linked in a list; pebbles tile each bucket as a doubly linked chain
 * of used and free blocks, each behind a 128-byte header with a magic, flags, alignment, size,
 * a 32-byte debug name and parent / prev / next links. All of it lives in simulated memory;
 * JavaScript keeps the list ends, a lookup hint and the counters.
 *
 * Besides the common API (heap_alloc / heap_size / heap_free) it has the extended
 * `kmalloc(size, align, flags, name)`, `krealloc` and `kfree`, where flags ask for physically
 * contiguous memory below 1 MiB, 16 MiB or 4 GiB, zeroed memory, or a persistent bucket.
 */
export class BucketHeap implements Heap {
  readonly name = "heap-bucket";
  readonly memory: Memory;
  /** Pebble data is 64-byte aligned at least. */
  readonly defaultAlign = GRANULE;
  readonly maxAlign = MAX_ALIGN;
  /** Empty buckets go back to the page source, except the first and PERSISTENT ones. */
  readonly releasesMemory = true;
  readonly options: ResolvedBucketHeapOptions;
  private readonly source: PageSource;
  private readonly bestFit: boolean;
  private readonly bucketSpace: number;

  private readonly buckets: BucketList;
  /** The free-pebble index: the data of the used pebble `indexPebble` in the first bucket. */
  private readonly ix: number;
  private readonly indexPebble: number;
  // Where the last fit search or pointer lookup landed (scalars, so nothing is allocated).
  private foundBucket = 0;
  private foundSize = 0;
  private foundData = 0;

  private readonly counters = new HeapCounters();

  /** Creates the heap and its first bucket; ENOMEM when the source cannot supply it. */
  constructor(source: PageSource, options: BucketHeapOptions = {}) {
    this.source = source;
    this.memory = source.memory;
    this.options = resolveBucketHeapOptions(options);
    this.bestFit = this.options.fit === "best";
    this.bucketSpace = this.options.bucketKiB * 1024;
    this.buckets = new BucketList(this.memory, source, this.bucketSpace);
    const first = this.buckets.grow(VIRTUAL | PERSISTENT, 0);
    if (first === 0) {
      throw new AllocatorError(
        "ENOMEM",
        `heap-bucket: the page source cannot supply the first bucket (${bucketBytesFor(this.bucketSpace) / PAGE_SIZE} pages)`,
        this.bucketSpace,
      );
    }
    this.indexPebble = makeIndex(this.memory, first);
    this.ix = this.indexPebble + PEBBLE_HEADER_BYTES;
    this.buckets.ix = this.ix;
  }

  // ---------------------------------------------------------------- the extended API

  /**
   * Allocates `size` bytes aligned to `align` (0 or 1: 64; a non-power of two is rounded up;
   * at most 1 MiB) with BUCKET_FLAGS `flags` and a debug `name` (up to 31 ASCII characters).
   * Returns the data address, or 0 when memory runs out.
   */
  kmalloc(size: number, align = 0, flags = 0, name = ""): number {
    checkSize(size);
    const alignment = kmallocAlignment(align);
    const requestFlags = normalizeFlags(flags, "kmalloc");
    checkName(name, "kmalloc");
    requireSupport(this.source, requestFlags, "kmalloc");
    return this.allocate(size, alignment, requestFlags, name);
  }

  /**
   * Resizes a block. In place when its pebble (with a free next neighbour) can hold `size` and
   * the flags keep the bucket's kind; otherwise a new block gets min(old, new) bytes and the
   * old one is freed. `flags` default to the flags the block was requested with, `name` to its
   * name. krealloc(0, n) is kmalloc(n); krealloc(p, 0) frees p and returns 0. On failure it
   * returns 0 and the old block stays valid.
   */
  krealloc(ptr: number, size: number, flags?: number, name?: string): number {
    if (ptr === 0) return this.kmalloc(size, 0, flags ?? 0, name ?? "");
    checkPointer(ptr);
    checkSize(size);
    const given = flags === undefined ? -1 : normalizeFlags(flags, "krealloc");
    if (name !== undefined) checkName(name, "krealloc");
    const p = this.usedPebbleAt(ptr);
    if (p === 0) this.reject(ptr, "krealloc");
    const bucket = this.foundBucket;
    if (size === 0) {
      this.freeUsed(bucket, p);
      return 0;
    }
    const mem = this.memory;
    const requestFlags = given === -1 ? mem.read32(p + PB_FLAGS) : given;
    requireSupport(this.source, requestFlags, "krealloc");
    const oldSize = mem.read32(p + PB_SIZE);
    const oldRequested = mem.read32(p + PB_REQUESTED);
    const kind = mem.read32(bucket + BK_FLAGS) & KIND_MASK;
    if (
      size <= MAX_BUCKET_BYTES &&
      (requestFlags & KIND_MASK) === kind &&
      resizeInPlace(mem, this.ix, bucket, p, pebbleBytes(size), kind)
    ) {
      const usable = mem.read32(p + PB_SIZE);
      mem.write32(p + PB_FLAGS, requestFlags);
      mem.write32(p + PB_REQUESTED, size);
      if (name !== undefined) writeName(mem, p + PB_NAME, name);
      if ((requestFlags & PERSISTENT) !== 0) this.markPersistent(bucket);
      if ((requestFlags & CLEAR) !== 0 && usable > oldSize)
        mem.fill(ptr + oldSize, 0, usable - oldSize);
      this.counters.resized(usable - oldSize, size - oldRequested);
      return ptr;
    }
    const alignment = mem.read32(p + PB_ALIGN);
    const fresh = this.allocate(size, alignment, requestFlags, name ?? readName(mem, p + PB_NAME));
    if (fresh === 0) return 0;
    mem.copy(fresh, ptr, Math.min(oldSize, size));
    this.freeUsed(bucket, p);
    return fresh;
  }

  /** Frees a block from kmalloc or heap_alloc (heap_free by its FYSOS name). */
  kfree(ptr: number): void {
    this.heap_free(ptr);
  }

  /** The debug name a live block was allocated with. */
  pebbleName(ptr: number): string {
    return readName(this.memory, this.liveHeader(ptr, "pebbleName") + PB_NAME);
  }

  /** The normalized BUCKET_FLAGS a live block was requested with. */
  flagsOf(ptr: number): number {
    return this.memory.read32(this.liveHeader(ptr, "flagsOf") + PB_FLAGS);
  }

  // ---------------------------------------------------------------- the common API

  heap_alloc(size: number, align?: number): number {
    checkSize(size);
    const alignment = effectiveAlign(align, GRANULE, MAX_ALIGN);
    return this.allocate(size, alignment, VIRTUAL, "");
  }

  heap_size(ptr: number): number {
    if (!Number.isSafeInteger(ptr) || ptr < PEBBLE_HEADER_BYTES) return 0;
    const p = this.usedPebbleAt(ptr);
    return p === 0 ? 0 : this.memory.read32(p + PB_SIZE);
  }

  heap_free(ptr: number): void {
    if (ptr === 0) return;
    checkPointer(ptr);
    const p = this.usedPebbleAt(ptr);
    if (p === 0) this.reject(ptr, "heap_free");
    this.freeUsed(this.foundBucket, p);
  }

  stats(): HeapStats {
    return this.counters.stats(
      this.buckets.footprintBytes,
      this.buckets.peakFootprintBytes,
      this.buckets.figures(this.counters.liveBytes + INDEX_BYTES),
    );
  }

  /** Walks every bucket and pebble (see {@link BucketHeap.dump}) and checks the counters; ECORRUPT. */
  check(): void {
    this.verify(walkHeap(this.memory, this.buckets.first, this.indexPebble));
  }

  /**
   * One line per bucket (address, size, flags, pebble count, largest free pebble) and one
   * indented line per pebble (address, size, USED/FREE, flags, alignment, name, links). It
   * checks everything check() does as it goes, and throws ECORRUPT at the first bad header.
   */
  dump(): string {
    const lines: string[] = [];
    this.verify(walkHeap(this.memory, this.buckets.first, this.indexPebble, lines));
    return lines.join("\n");
  }

  // ---------------------------------------------------------------- allocation

  private allocate(size: number, alignment: number, flags: number, name: string): number {
    if (size > MAX_BUCKET_BYTES) return this.fail();
    const mem = this.memory;
    const need = pebbleBytes(size);
    const kind = flags & KIND_MASK;
    let f =
      alignment === GRANULE ? this.findFit(kind, need) : this.findAligned(kind, need, alignment);
    let bucket: number;
    if (f === 0) {
      const extra = alignment > GRANULE ? alignment + PEBBLE_HEADER_BYTES : 0;
      bucket = this.buckets.grow(kind, PEBBLE_HEADER_BYTES + need + extra);
      if (bucket === 0) return this.fail();
      f = bucket + mem.read32(bucket + BK_PEBBLES_OFFSET);
      this.foundSize = mem.read32(f + PB_SIZE);
      this.foundData = placeIn(f, this.foundSize, need, alignment);
      if (this.foundData === 0) {
        // Unreachable while grow sizes buckets for the worst-case alignment gap.
        this.buckets.drop(bucket);
        return this.fail();
      }
    } else {
      bucket = read64(mem, f + PB_PARENT);
    }
    const data = this.foundData;
    const p = carve(mem, this.ix, bucket, f, this.foundSize, data, need, kind);
    // carve leaves the bucket's kind, alignment 64 and an empty name: write what differs.
    if (flags !== kind) mem.write32(p + PB_FLAGS, flags);
    mem.write32(p + PB_REQUESTED, size);
    if (alignment !== GRANULE) mem.write32(p + PB_ALIGN, alignment);
    if (name !== "") writeName(mem, p + PB_NAME, name);
    if ((flags & PERSISTENT) !== 0) this.markPersistent(bucket);
    const room = f + PEBBLE_HEADER_BYTES + this.foundSize - data;
    const usable = room - need >= MIN_SPLIT ? need : room;
    if ((flags & CLEAR) !== 0) mem.fill(data, 0, usable);
    this.counters.allocated(usable, size);
    return data;
  }

  private fail(): number {
    this.counters.failed();
    return 0;
  }

  /**
   * A free pebble of kind `kind` for `need` bytes at the default alignment (its data size in
   * foundSize, its data address in foundData), or 0. The search starts at the request's size
   * bin: an exact bin (up to 4096 bytes) holds only pebbles of that size, so its first pebble
   * of the right kind is taken; in a bin of a size range, first fit takes the first pebble that
   * is large enough, best fit the smallest. When that bin has nothing, the next non-empty bins
   * are tried in size order; every pebble there is large enough, so first fit takes the first
   * of the right kind and best fit the smallest.
   */
  private findFit(kind: number, need: number): number {
    const mem = this.memory;
    const ix = this.ix;
    const anyKind = kind !== VIRTUAL || this.buckets.otherKinds !== 0;
    let bin = binOf(need);
    if (bin < EXACT_BINS || !this.bestFit) {
      // The head of an exact bin fits; elsewhere, the first that fits.
      for (let f = binHead(mem, ix, bin); f !== 0; f = read64(mem, f + PB_FREE_NEXT)) {
        if (anyKind && mem.read32(f + PB_FLAGS) !== kind) continue;
        const size = bin < EXACT_BINS ? need : mem.read32(f + PB_SIZE);
        if (size < need) continue;
        return this.found(f, size);
      }
      bin = nextBin(mem, ix, bin + 1);
      if (!this.bestFit) {
        for (; bin !== -1; bin = nextBin(mem, ix, bin + 1)) {
          for (let f = binHead(mem, ix, bin); f !== 0; f = read64(mem, f + PB_FREE_NEXT)) {
            if (anyKind && mem.read32(f + PB_FLAGS) !== kind) continue;
            return this.found(f, mem.read32(f + PB_SIZE));
          }
        }
        return 0;
      }
    }
    // Best fit: the smallest pebble of the first bin that has one that fits.
    for (; bin !== -1; bin = nextBin(mem, ix, bin + 1)) {
      let best = 0;
      let bestSize = 0;
      for (let f = binHead(mem, ix, bin); f !== 0; f = read64(mem, f + PB_FREE_NEXT)) {
        if (anyKind && mem.read32(f + PB_FLAGS) !== kind) continue;
        const size = mem.read32(f + PB_SIZE);
        if (size < need || (best !== 0 && size >= bestSize)) continue;
        best = f;
        bestSize = size;
        if (size === need) break;
      }
      if (best !== 0) return this.found(best, bestSize);
    }
    return 0;
  }

  private found(f: number, size: number): number {
    this.foundSize = size;
    this.foundData = f + PEBBLE_HEADER_BYTES;
    return f;
  }

  /**
   * As findFit, for an alignment above 64: a pebble fits when the aligned data (behind a pad
   * pebble if there is a gap) fits in it. Bins are tried in size order from the request's;
   * first fit takes the first pebble that fits, best fit the smallest of the first bin with one.
   */
  private findAligned(kind: number, need: number, alignment: number): number {
    const mem = this.memory;
    const ix = this.ix;
    for (let bin = nextBin(mem, ix, binOf(need)); bin !== -1; bin = nextBin(mem, ix, bin + 1)) {
      let best = 0;
      let bestSize = 0;
      let bestData = 0;
      for (let f = binHead(mem, ix, bin); f !== 0; f = read64(mem, f + PB_FREE_NEXT)) {
        if (mem.read32(f + PB_FLAGS) !== kind) continue;
        const size = mem.read32(f + PB_SIZE);
        if (best !== 0 && size >= bestSize) continue;
        const data = placeIn(f, size, need, alignment);
        if (data === 0) continue;
        best = f;
        bestSize = size;
        bestData = data;
        if (!this.bestFit) break;
      }
      if (best !== 0) {
        this.foundSize = bestSize;
        this.foundData = bestData;
        return best;
      }
    }
    return 0;
  }

  private markPersistent(bucket: number): void {
    this.memory.write32(bucket + BK_FLAGS, this.memory.read32(bucket + BK_FLAGS) | PERSISTENT);
  }

  // ---------------------------------------------------------------- freeing

  /** Frees used pebble `p` of `bucket`; an empty bucket goes back unless it is PERSISTENT. */
  private freeUsed(bucket: number, p: number): void {
    const mem = this.memory;
    const size = mem.read32(p + PB_SIZE);
    this.counters.released(size, mem.read32(p + PB_REQUESTED));
    const flags = mem.read32(bucket + BK_FLAGS);
    const pebbles = release(mem, this.ix, bucket, p, size, flags & KIND_MASK);
    if (pebbles === 1 && (flags & PERSISTENT) === 0) this.buckets.drop(bucket);
  }

  /**
   * The header of the used pebble whose data starts at `ptr` (and its bucket in foundBucket),
   * or 0. The pebble-start bitmap, outside every pebble, decides whether a header is there, so
   * a ROCK header forged inside a block's data is never taken for a pebble.
   */
  private usedPebbleAt(ptr: number): number {
    const bucket = this.buckets.bucketOf(ptr);
    if (bucket === 0) return 0;
    const mem = this.memory;
    const p = ptr - PEBBLE_HEADER_BYTES;
    const offset = p - bucket;
    if (offset < mem.read32(bucket + BK_PEBBLES_OFFSET) || offset % GRANULE !== 0) return 0;
    if (!isPebbleStart(mem, bucket, p) || p === this.indexPebble) return 0;
    if (
      mem.read32(p + PB_MAGIC) !== PEBBLE_MAGIC ||
      mem.read32(p + PB_STATE) !== USED_TAG ||
      read64(mem, p + PB_PARENT) !== bucket
    )
      return 0;
    this.foundBucket = bucket;
    return p;
  }

  private liveHeader(ptr: number, call: string): number {
    checkPointer(ptr);
    const p = ptr < PEBBLE_HEADER_BYTES ? 0 : this.usedPebbleAt(ptr);
    if (p === 0) this.reject(ptr, call);
    return p;
  }

  /** Raises the error for a pointer that is not a live block (see rejectPointer). */
  private reject(ptr: number, call: string): never {
    if (ptr === this.ix) {
      throw new AllocatorError(
        "EFAULT",
        `${call}: pointer ${describeValue(ptr)} is the heap's own free-pebble index, not a block`,
        ptr,
      );
    }
    return rejectPointer(this.memory, this.buckets.bucketOf(ptr), call, ptr);
  }

  // ---------------------------------------------------------------- check

  private verify(totals: WalkTotals): void {
    const fail = (what: string): never => {
      throw new AllocatorError("ECORRUPT", `heap-bucket: ${what}`, this.buckets.first);
    };
    if (
      this.buckets.first === 0 ||
      (this.memory.read32(this.buckets.first + BK_FLAGS) & PERSISTENT) === 0
    )
      fail(`the first bucket ${hex(this.buckets.first)} is missing or not persistent`);
    if (totals.lastBucket !== this.buckets.last)
      fail(`the bucket list ends at ${hex(totals.lastBucket)}, not ${hex(this.buckets.last)}`);
    if (
      totals.buckets !== this.buckets.count ||
      totals.footprintBytes !== this.buckets.footprintBytes
    )
      fail(
        `${totals.buckets} buckets / ${totals.footprintBytes} B walked, ${this.buckets.count} / ${this.buckets.footprintBytes} counted`,
      );
    if (
      totals.liveBlocks !== this.counters.liveBlocks ||
      totals.liveBytes !== this.counters.liveBytes ||
      totals.requestedBytes !== this.counters.requestedBytes
    )
      fail(
        `live counters (${totals.liveBlocks} blocks / ${totals.liveBytes} B walked, ${this.counters.liveBlocks} / ${this.counters.liveBytes} counted)`,
      );
  }
}

/**
 * Makes the free-pebble index in the first bucket: a used pebble of INDEX_BYTES at its end
 * (flags VIRTUAL|PERSISTENT, named INDEX_NAME, never handed out, not counted as live), zeroed,
 * in front of which the rest of the bucket stays one free pebble, filed in the new index.
 * Returns the index pebble's header.
 */
function makeIndex(mem: Memory, bucket: number): number {
  const first = bucket + mem.read32(bucket + BK_PEBBLES_OFFSET);
  const q = bucket + mem.read32(bucket + BK_SIZE) - PEBBLE_HEADER_BYTES - INDEX_BYTES;
  const freeSize = q - first - PEBBLE_HEADER_BYTES;
  mem.fill(q, 0, PEBBLE_HEADER_BYTES + INDEX_BYTES);
  mem.write32(q + PB_MAGIC, PEBBLE_MAGIC);
  mem.write32(q + PB_FLAGS, VIRTUAL | PERSISTENT);
  mem.write32(q + PB_STATE, USED_TAG);
  mem.write32(q + PB_SIZE, INDEX_BYTES);
  mem.write32(q + PB_REQUESTED, INDEX_BYTES);
  mem.write32(q + PB_ALIGN, GRANULE);
  write64(mem, q + PB_PARENT, bucket);
  write64(mem, q + PB_PREV, first);
  writeName(mem, q + PB_NAME, INDEX_NAME);
  write64(mem, first + PB_NEXT, q);
  mem.write32(first + PB_SIZE, freeSize);
  markPebbleStart(mem, bucket, q, true);
  mem.write32(bucket + BK_PEBBLE_COUNT, 2);
  mem.write32(bucket + BK_LARGEST, freeSize);
  const ix = q + PEBBLE_HEADER_BYTES;
  write64(mem, bucket + BK_FREE_HEAD, ix);
  fileFree(mem, ix, first, freeSize);
  return q;
}

/** Data bytes of a pebble for `size` requested bytes: a multiple of 64, at least 64. */
function pebbleBytes(size: number): number {
  return size <= MIN_PEBBLE_DATA ? MIN_PEBBLE_DATA : alignUp(size, GRANULE);
}

/** kmalloc's alignment rule: 0 or 1 = 64, a non-power of two rounds up, at least 64, at most 1 MiB. */
function kmallocAlignment(align: number): number {
  if (!Number.isSafeInteger(align) || align < 0 || align > MAX_ALIGN) {
    throw new AllocatorError(
      "EINVAL",
      `kmalloc: alignment ${describeValue(align)} is not an integer from 0 to ${MAX_ALIGN}`,
      align,
    );
  }
  return align <= GRANULE ? GRANULE : nextPowerOfTwo(align);
}
