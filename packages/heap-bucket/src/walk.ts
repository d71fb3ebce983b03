import { AllocatorError, PAGE_SIZE, hex, isPowerOfTwo } from "@allockit/core";
import type { Memory } from "@allockit/core";
import { ALL_FLAGS, BUCKET_FLAGS, KIND_MASK, flagNames, isBucketKind } from "./flags.js";
import {
  BK_BITMAP,
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
  BIN_COUNT,
  BUCKET_MAGIC,
  CACHE_CHUNK,
  CACHE_SLOTS,
  FREE_TAG,
  INDEX_BYTES,
  IX_BITMAP,
  IX_CACHE,
  IX_HEADS,
  GRANULE,
  MAX_ALIGN,
  MIN_PEBBLE_DATA,
  MIN_SPLIT,
  PEBBLE_HEADER_BYTES,
  PEBBLE_MAGIC,
  PB_ALIGN,
  PB_FLAGS,
  PB_FREE_NEXT,
  PB_FREE_PREV,
  PB_MAGIC,
  PB_NAME,
  PB_NEXT,
  PB_PARENT,
  PB_PREV,
  PB_REQUESTED,
  PB_SIZE,
  PB_STATE,
  USED_TAG,
  bitmapBytes,
  pebblesOffset,
  read64,
} from "./layout.js";
import { binOf } from "./free-index.js";
import { readName } from "./names.js";

/** What a walk of the whole heap counted. */
export interface WalkTotals {
  buckets: number;
  footprintBytes: number;
  pebbles: number;
  freePebbles: number;
  liveBlocks: number;
  liveBytes: number;
  requestedBytes: number;
  /** The last bucket of the list (0 when there is none). */
  lastBucket: number;
}

/** What the walk keeps while it goes: bucket starts and ends, and the index pebble seen. */
interface WalkState {
  totals: WalkTotals;
  indexPebble: number;
  ix: number;
  sawIndex: boolean;
  /** Bucket start -> end. */
  ends: Map<number, number>;
}

/** More buckets than this in one list can only be a loop. */
const MAX_BUCKETS = 1 << 24;

function corrupt(what: string, at: number): never {
  throw new AllocatorError("ECORRUPT", `heap-bucket: ${what} at ${hex(at)}`, at);
}

/**
 * Walks every bucket and pebble from `firstBucket`, checking magics, the bucket and pebble
 * links (prev / next / parent / first), sizes, alignments, the pebble-start bitmap, the free
 * lists and each bucket's counters and largest free pebble; throws ECORRUPT naming the address
 * of the first bad bucket or pebble. Then it walks the free-pebble index (the data of
 * `indexPebble`, a used pebble of the first bucket that is not counted as live): every bin's
 * links, that each entry is a free pebble of that bin's sizes, that together they are exactly
 * the free pebbles, the non-empty bitmap and the bucket-lookup cache. With `lines`, also
 * describes each bucket and pebble there (this is `dump()`); without, it is `check()`'s walk.
 */
export function walkHeap(
  memory: Memory,
  firstBucket: number,
  indexPebble: number,
  lines?: string[],
): WalkTotals {
  const totals: WalkTotals = {
    buckets: 0,
    footprintBytes: 0,
    pebbles: 0,
    freePebbles: 0,
    liveBlocks: 0,
    liveBytes: 0,
    requestedBytes: 0,
    lastBucket: 0,
  };
  const state: WalkState = {
    totals,
    indexPebble,
    ix: indexPebble + PEBBLE_HEADER_BYTES,
    sawIndex: false,
    ends: new Map(),
  };
  let prev = 0;
  for (let b = firstBucket; b !== 0; b = read64(memory, b + BK_NEXT)) {
    if (++totals.buckets > MAX_BUCKETS) corrupt("bucket list loops", b);
    walkBucket(memory, b, prev, state, lines);
    prev = b;
  }
  totals.lastBucket = prev;
  if (!state.sawIndex) corrupt("the free-pebble index pebble is missing", indexPebble);
  walkIndex(memory, state);
  return totals;
}

/** Checks the bins, their bitmap and the lookup cache of the free-pebble index. */
function walkIndex(memory: Memory, state: WalkState): void {
  const { ix, ends, totals } = state;
  let listed = 0;
  for (let bin = 0; bin < BIN_COUNT; bin++) {
    const head = read64(memory, ix + IX_HEADS + bin * 8);
    const bit = (memory.read32(ix + IX_BITMAP + (bin >>> 5) * 4) >>> (bin & 31)) & 1;
    if (bit !== (head === 0 ? 0 : 1)) corrupt(`free-index bitmap bit of bin ${bin}`, ix);
    let prev = 0;
    for (let f = head; f !== 0; f = read64(memory, f + PB_FREE_NEXT)) {
      if (++listed > totals.freePebbles)
        corrupt("free index lists more pebbles than are free (loop or stray entry)", f);
      const b = read64(memory, f + PB_PARENT);
      const end = ends.get(b);
      if (end === undefined || f < b || f >= end || (f - b) % GRANULE !== 0)
        corrupt("free-index entry outside the buckets", f);
      const granule = (f - b) / GRANULE;
      const bits = memory.read8(b + BK_BITMAP + Math.floor(granule / 8));
      if ((bits & (1 << (granule % 8))) === 0) corrupt("free-index entry is not a pebble", f);
      if (memory.read32(f + PB_STATE) !== FREE_TAG) corrupt("free-index entry is not free", f);
      if (binOf(memory.read32(f + PB_SIZE)) !== bin)
        corrupt(`free-index entry filed in the wrong bin (${bin})`, f);
      if (read64(memory, f + PB_FREE_PREV) !== prev) corrupt("free-index prev link", f);
      prev = f;
    }
  }
  if (listed !== totals.freePebbles)
    corrupt(`free index holds ${listed} of ${totals.freePebbles} free pebbles`, ix);
  for (let slot = 0; slot < CACHE_SLOTS; slot++) {
    const b = read64(memory, ix + IX_CACHE + slot * 8);
    if (b === 0) continue;
    const end = ends.get(b);
    const firstChunk = Math.floor(b / CACHE_CHUNK);
    const chunks = end === undefined ? 0 : Math.floor((end - 1) / CACHE_CHUNK) - firstChunk + 1;
    if (
      end === undefined ||
      (chunks < CACHE_SLOTS &&
        (slot - (firstChunk % CACHE_SLOTS) + CACHE_SLOTS) % CACHE_SLOTS >= chunks)
    )
      corrupt(`bucket-lookup cache slot ${slot} names ${hex(b)}`, ix);
  }
}

function walkBucket(
  memory: Memory,
  b: number,
  prevBucket: number,
  walk: WalkState,
  lines: string[] | undefined,
): void {
  const totals = walk.totals;
  if (b % PAGE_SIZE !== 0) corrupt("bucket link to an address that is not page-aligned", b);
  let magic: number;
  try {
    magic = memory.read32(b + BK_MAGIC);
  } catch (error) {
    // A corrupted next link may point anywhere; reading there faults.
    throw new AllocatorError(
      "ECORRUPT",
      `heap-bucket: bucket link to ${hex(b)}, where no memory is`,
      b,
      { cause: error },
    );
  }
  if (magic !== BUCKET_MAGIC) corrupt(`bucket magic ${hex(magic)}`, b);
  if (read64(memory, b + BK_PREV) !== prevBucket) corrupt("bucket prev link", b);
  const size = memory.read32(b + BK_SIZE);
  const pages = memory.read32(b + BK_PAGES);
  if (size === 0 || size % PAGE_SIZE !== 0 || pages * PAGE_SIZE !== size)
    corrupt(`bucket size ${size} (${pages} pages)`, b);
  const offset = memory.read32(b + BK_PEBBLES_OFFSET);
  if (offset !== pebblesOffset(size) || offset + MIN_SPLIT > size)
    corrupt(`bucket pebbles offset ${offset}`, b);
  const flags = memory.read32(b + BK_FLAGS);
  const kind = flags & KIND_MASK;
  if ((flags & ~(KIND_MASK | BUCKET_FLAGS.PERSISTENT)) !== 0 || !isBucketKind(kind))
    corrupt(`bucket flags ${hex(flags)}`, b);
  const first = b + offset;
  if (read64(memory, b + BK_FIRST) !== first) corrupt("bucket first-pebble link", b);
  if (read64(memory, b + BK_FREE_HEAD) !== walk.ix) corrupt("bucket free-index link", b);
  const pebbleCount = memory.read32(b + BK_PEBBLE_COUNT);
  const freeCount = memory.read32(b + BK_FREE_COUNT);
  const largest = memory.read32(b + BK_LARGEST);
  lines?.push(
    `bucket ${hex(b)} size ${size} (${pages} pages) flags ${flagNames(flags)} pebbles ${pebbleCount} (${freeCount} free) largest free ${largest}`,
  );

  const end = b + size;
  const maxPebbles = Math.floor((size - offset) / MIN_SPLIT);
  const words = bitmapBytes(size) / 4;
  let word = 0;
  let expected = 0;
  let count = 0;
  let free = 0;
  let maxFree = 0;
  let prevFree = false;
  let prev = 0;
  for (let p = first; p !== 0;) {
    if (++count > maxPebbles) corrupt("pebble chain loops", p);
    const pebbleMagic = memory.read32(p + PB_MAGIC);
    if (pebbleMagic !== PEBBLE_MAGIC) corrupt(`pebble magic ${hex(pebbleMagic)}`, p);
    if (read64(memory, p + PB_PARENT) !== b) corrupt("pebble parent link", p);
    if (read64(memory, p + PB_PREV) !== prev) corrupt("pebble prev link", p);
    const psize = memory.read32(p + PB_SIZE);
    const dataEnd = p + PEBBLE_HEADER_BYTES + psize;
    if (psize < MIN_PEBBLE_DATA || psize % GRANULE !== 0 || dataEnd > end)
      corrupt(`pebble size ${psize}`, p);
    const state = memory.read32(p + PB_STATE);
    const pflags = memory.read32(p + PB_FLAGS);
    const align = memory.read32(p + PB_ALIGN);
    const requested = memory.read32(p + PB_REQUESTED);
    if (state === USED_TAG) {
      if (requested > psize) corrupt(`requested ${requested} larger than pebble size`, p);
      if (!isPowerOfTwo(align) || align < GRANULE || align > MAX_ALIGN)
        corrupt(`pebble alignment ${align}`, p);
      if ((p + PEBBLE_HEADER_BYTES) % align !== 0)
        corrupt(`pebble data not aligned to ${align}`, p);
      if ((pflags & ~ALL_FLAGS) !== 0 || (pflags & KIND_MASK) !== kind)
        corrupt(`pebble flags ${hex(pflags)} in a ${flagNames(kind)} bucket`, p);
      if (read64(memory, p + PB_FREE_NEXT) !== 0 || read64(memory, p + PB_FREE_PREV) !== 0)
        corrupt("used pebble has free-list links", p);
      if (p === walk.indexPebble) {
        if (prevBucket !== 0) corrupt("free-pebble index outside the first bucket", p);
        if (psize !== INDEX_BYTES || requested !== INDEX_BYTES || read64(memory, p + PB_NEXT) !== 0)
          corrupt("free-pebble index pebble", p);
        walk.sawIndex = true;
      } else {
        totals.liveBlocks++;
        totals.liveBytes += psize;
        totals.requestedBytes += requested;
      }
      prevFree = false;
    } else if (state === FREE_TAG) {
      if (prevFree) corrupt("two adjacent free pebbles (missed merge)", p);
      if (pflags !== kind || requested !== 0 || align !== GRANULE)
        corrupt("free pebble fields (flags, requested, alignment)", p);
      free++;
      if (psize > maxFree) maxFree = psize;
      prevFree = true;
    } else {
      corrupt(`pebble state ${hex(state)}`, p);
    }
    // The bitmap must have exactly the pebble starts set; compare it a word at a time.
    const granule = (p - b) / GRANULE;
    const at = Math.floor(granule / 32);
    for (; word < at; word++, expected = 0) checkBitmapWord(memory, b, word, expected);
    expected = (expected | (1 << (granule % 32))) >>> 0;
    const next = read64(memory, p + PB_NEXT);
    if (next === 0 ? dataEnd !== end : next !== dataEnd)
      corrupt(next === 0 ? "pebbles end before the bucket does" : "pebble next link", p);
    lines?.push(
      `  pebble ${hex(p)} data ${hex(p + PEBBLE_HEADER_BYTES)} size ${psize} ${state === USED_TAG ? "USED" : "FREE"} flags ${flagNames(pflags)} align ${align} name ${JSON.stringify(readName(memory, p + PB_NAME))} parent ${hex(b)} prev ${hex(prev)} next ${hex(next)}`,
    );
    prev = p;
    p = next;
  }
  for (; word < words; word++, expected = 0) checkBitmapWord(memory, b, word, expected);

  if (pebbleCount !== count) corrupt(`bucket pebble count ${pebbleCount}, ${count} walked`, b);
  if (freeCount !== free) corrupt(`bucket free count ${freeCount}, ${free} walked`, b);
  if (largest !== maxFree) corrupt(`bucket largest ${largest}, largest free pebble ${maxFree}`, b);
  walk.ends.set(b, end);
  if (count === 1 && free === 1 && (flags & BUCKET_FLAGS.PERSISTENT) === 0)
    corrupt("empty bucket was not returned", b);

  totals.footprintBytes += size;
  totals.pebbles += count;
  totals.freePebbles += free;
}

function checkBitmapWord(memory: Memory, b: number, word: number, expected: number): void {
  const actual = memory.read32(b + BK_BITMAP + word * 4);
  if (actual !== expected) {
    const diff = (actual ^ expected) >>> 0;
    const granule = word * 32 + (31 - Math.clz32(diff & -diff));
    const what = (actual & diff) !== 0 ? "stray pebble-start bit" : "missing pebble-start bit";
    corrupt(what, b + granule * GRANULE);
  }
}
