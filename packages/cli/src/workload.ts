import { AllocatorError, KiB, Libc, hex, type Heap, type Memory } from "@allockit/core";
import { SeededRandom } from "./random.js";

/**
 * A synthetic, deterministic allocation workload shaped like a kernel or a C program: mostly
 * small objects of struct-like sizes, some medium buffers, rare large ones, a few aligned
 * requests, calloc'd tables and growing buffers (realloc). Each block gets its first and last
 * byte written, so the memory is really touched, and both are checked before the block is
 * freed or moved: a heap that hands out overlapping blocks or scribbles over live data fails
 * the run with ECORRUPT instead of passing it.
 *
 * The live set random-walks in phases: grow (more allocations than frees), churn (balanced)
 * and shrink. Allocations are short-lived (temporaries, freed soon, most recent first) or
 * long-lived (kept until a random free picks them).
 */

export interface WorkloadOptions {
  /** Operations to perform; each allocation, free or realloc counts one. */
  ops: number;
  /** Seed of the pseudo-random generator: the same seed replays the same operations. */
  seed: number;
  /** Most blocks held at once (default 4000). Bounds the walk, and so the heap's lists. */
  maxLiveBlocks?: number;
  /** Called every `progressEvery` operations and after the last one. */
  onProgress?: (done: number, total: number) => void;
  /** Operations between progress calls (default 10000). */
  progressEvery?: number;
}

/** What a workload did. Byte figures are requested bytes, not the heap's usable sizes. */
export interface WorkloadCounters {
  /** allocs + frees + reallocs + failures. */
  operations: number;
  /** Successful allocations (malloc, calloc, aligned_alloc). */
  allocs: number;
  /** Of the allocations, those with an explicit alignment (64 or 4096). */
  alignedAllocs: number;
  /** Of the allocations, those made by calloc. */
  zeroedAllocs: number;
  frees: number;
  /** Successful reallocs. */
  reallocs: number;
  /** Of the reallocs, those that moved the block (one heap_alloc and one heap_free inside). */
  movedReallocs: number;
  /** Allocations and reallocs that returned 0 (out of memory). */
  failures: number;
  /** Sum of the sizes of successful allocations and reallocs. */
  bytesRequested: number;
  liveBlocks: number;
  liveBytes: number;
  peakLiveBlocks: number;
  peakLiveBytes: number;
  /** Phases of the live-set walk started. */
  phases: number;
  /** Blocks freed by releaseAll (not counted in operations). */
  releasedBlocks: number;
}

const DEFAULT_MAX_LIVE_BLOCKS = 4000;
const DEFAULT_PROGRESS_EVERY = 10_000;

// Operation mix.
const REALLOC_SHARE = 0.03;
const ALIGNED_SHARE = 0.01;
const ZEROED_SHARE = 0.02;
const SHORT_LIVED_SHARE = 0.6;
const SHORT_LIVED_CAPACITY = 64;
/** Short-lived blocks are freed from among the few most recent, stack-like. */
const RECENT_WINDOW = 4;
const SHORT_FREE_SHARE = 0.7;

// Sizes.
const LARGE_SHARE = 0.003;
const MEDIUM_SHARE = 0.08;
const COMMON_SIZE_SHARE = 0.65;
/** Sizes of typical kernel structs and strings; the rest of the small sizes are arbitrary. */
const COMMON_SMALL_SIZES = [16, 24, 32, 40, 48, 64, 96, 128, 160, 192, 256];
const SMALL_MIN = 16;
const SMALL_MAX = 256;
const MEDIUM_MIN = 1 * KiB;
const MEDIUM_MAX = 8 * KiB;
const LARGE_MIN = 64 * KiB;
const LARGE_MAX = 256 * KiB;
const REALLOC_GROW_SHARE = 0.7;
const REALLOC_MAX = 256 * KiB;

// Phases of the live-set walk.
const GROW = 0;
const CHURN = 1;
const SHRINK = 2;
/** Chance that a non-realloc operation allocates, per phase. */
const ALLOC_PROBABILITY = [0.62, 0.5, 0.38];
const CHURN_MIN_OPS = 2_000;
const CHURN_MAX_OPS = 20_000;
/** A grow or shrink phase that has not reached its target by then ends anyway. */
const PHASE_MAX_OPS = 60_000;

/** Blocks held, in parallel typed arrays: no object per block on the hot path. */
class BlockPool {
  readonly pointers: Float64Array;
  readonly sizes: Float64Array;
  readonly tags: Uint8Array;
  count = 0;

  constructor(readonly capacity: number) {
    this.pointers = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
    this.tags = new Uint8Array(capacity);
  }

  add(ptr: number, size: number, tag: number): void {
    const index = this.count++;
    this.pointers[index] = ptr;
    this.sizes[index] = size;
    this.tags[index] = tag;
  }

  /** Removes entry `index` by moving the last entry into its place. */
  removeAt(index: number): void {
    const last = --this.count;
    if (index === last) return;
    this.pointers[index] = this.pointers[last]!;
    this.sizes[index] = this.sizes[last]!;
    this.tags[index] = this.tags[last]!;
  }
}

function checkWholeNumber(value: number, what: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new AllocatorError(
      "EINVAL",
      `workload: ${what} ${String(value)} is not an integer >= ${min}`,
      value,
    );
  }
}

/** A workload bound to one heap. `run()` performs the operations, `releaseAll()` frees what is left. */
export class Workload {
  readonly heap: Heap;
  private readonly libc: Libc;
  private readonly memory: Memory;
  private readonly random: SeededRandom;
  private readonly totalOps: number;
  private readonly maxLiveBlocks: number;
  private readonly progressEvery: number;
  private readonly onProgress: ((done: number, total: number) => void) | undefined;
  private readonly shortLived: BlockPool;
  private readonly longLived: BlockPool;
  private readonly counters: WorkloadCounters = {
    operations: 0,
    allocs: 0,
    alignedAllocs: 0,
    zeroedAllocs: 0,
    frees: 0,
    reallocs: 0,
    movedReallocs: 0,
    failures: 0,
    bytesRequested: 0,
    liveBlocks: 0,
    liveBytes: 0,
    peakLiveBlocks: 0,
    peakLiveBytes: 0,
    phases: 0,
    releasedBlocks: 0,
  };
  private opsDone = 0;
  private serial = 0;
  private phase = GROW;
  private phaseTarget = 0;
  private phaseOpsLeft = 0;

  constructor(heap: Heap, options: WorkloadOptions) {
    checkWholeNumber(options.ops, "ops", 0);
    checkWholeNumber(options.seed, "seed", 0);
    const maxLiveBlocks = options.maxLiveBlocks ?? DEFAULT_MAX_LIVE_BLOCKS;
    checkWholeNumber(maxLiveBlocks, "maxLiveBlocks", 1);
    const progressEvery = options.progressEvery ?? DEFAULT_PROGRESS_EVERY;
    checkWholeNumber(progressEvery, "progressEvery", 1);
    this.heap = heap;
    this.libc = new Libc(heap);
    this.memory = heap.memory;
    this.random = new SeededRandom(options.seed);
    this.totalOps = options.ops;
    this.maxLiveBlocks = maxLiveBlocks;
    this.progressEvery = progressEvery;
    this.onProgress = options.onProgress;
    this.shortLived = new BlockPool(Math.min(SHORT_LIVED_CAPACITY, maxLiveBlocks));
    this.longLived = new BlockPool(maxLiveBlocks);
  }

  /** Performs the operations not done yet and returns the counters. */
  run(): WorkloadCounters {
    const total = this.totalOps;
    while (this.opsDone < total) {
      this.step();
      this.opsDone++;
      if (
        this.onProgress !== undefined &&
        (this.opsDone % this.progressEvery === 0 || this.opsDone === total)
      ) {
        this.onProgress(this.opsDone, total);
      }
    }
    return this.snapshot();
  }

  /** Frees every block still held (checking its bytes first); returns how many. */
  releaseAll(): number {
    let released = 0;
    for (const pool of [this.shortLived, this.longLived]) {
      while (pool.count > 0) {
        this.release(pool, pool.count - 1);
        released++;
      }
    }
    // Cleanup, so not counted as frees or operations.
    this.counters.releasedBlocks += released;
    return released;
  }

  /** A copy of the counters so far. */
  snapshot(): WorkloadCounters {
    return { ...this.counters };
  }

  // ---------------------------------------------------------------- one operation

  private step(): void {
    const live = this.counters.liveBlocks;
    if (this.phaseOpsLeft-- <= 0 || this.phaseReached(live)) this.startPhase(live);
    if (live > 0 && this.random.next() < REALLOC_SHARE) {
      this.reallocOne();
    } else if (
      live === 0 ||
      (live < this.maxLiveBlocks && this.random.next() < ALLOC_PROBABILITY[this.phase]!)
    ) {
      this.allocOne();
    } else {
      this.freeOne();
    }
  }

  private phaseReached(live: number): boolean {
    if (this.phase === GROW) return live >= this.phaseTarget;
    if (this.phase === SHRINK) return live <= this.phaseTarget;
    return false;
  }

  private startPhase(live: number): void {
    const fill = live / this.maxLiveBlocks;
    let phase: number;
    if (fill < 0.15) phase = GROW;
    else if (fill > 0.85) phase = this.random.next() < 0.5 ? SHRINK : CHURN;
    else phase = this.random.below(3);
    this.phase = phase;
    this.counters.phases++;
    if (phase === GROW) {
      this.phaseTarget =
        live + Math.ceil((this.maxLiveBlocks - live) * (0.3 + 0.7 * this.random.next()));
      this.phaseOpsLeft = PHASE_MAX_OPS;
    } else if (phase === SHRINK) {
      this.phaseTarget = Math.floor(live * (0.05 + 0.65 * this.random.next()));
      this.phaseOpsLeft = PHASE_MAX_OPS;
    } else {
      this.phaseTarget = live;
      this.phaseOpsLeft = this.random.between(CHURN_MIN_OPS, CHURN_MAX_OPS);
    }
  }

  private allocOne(): void {
    const kind = this.random.next();
    let size: number;
    let align = 0;
    let ptr: number;
    if (kind < ALIGNED_SHARE) {
      // Cache-line aligned objects, or page-aligned buffers (DMA, page tables).
      if (this.random.next() < 0.5) {
        align = 64;
        size = this.random.between(SMALL_MIN, SMALL_MAX);
      } else {
        align = 4096;
        size = this.random.between(512, MEDIUM_MAX);
      }
      ptr = this.libc.aligned_alloc(align, size);
    } else if (kind < ALIGNED_SHARE + ZEROED_SHARE) {
      const count = this.random.between(1, 16);
      const elementSize = this.random.between(1, 4) * 8;
      size = count * elementSize;
      ptr = this.libc.calloc(count, elementSize);
    } else {
      size = this.pickSize();
      ptr = this.libc.malloc(size);
    }
    if (ptr === 0) {
      this.counters.failures++;
      this.counters.operations++;
      return;
    }
    if (align !== 0) {
      if (ptr % align !== 0)
        this.misbehaved(`returned ${hex(ptr)} for a ${align}-aligned request of ${size} bytes`);
      this.counters.alignedAllocs++;
    } else if (kind < ALIGNED_SHARE + ZEROED_SHARE) {
      const first = this.memory.read8(ptr);
      const last = this.memory.read8(ptr + size - 1);
      if (first !== 0 || last !== 0)
        this.misbehaved(`calloc returned ${hex(ptr)} (${size} bytes) not zeroed`);
      this.counters.zeroedAllocs++;
    }
    const tag = this.nextTag();
    this.memory.write8(ptr, tag);
    this.memory.write8(ptr + size - 1, tag);
    const pool =
      this.shortLived.count < this.shortLived.capacity && this.random.next() < SHORT_LIVED_SHARE
        ? this.shortLived
        : this.longLived;
    pool.add(ptr, size, tag);
    const counters = this.counters;
    counters.allocs++;
    counters.operations++;
    counters.bytesRequested += size;
    counters.liveBlocks++;
    counters.liveBytes += size;
    if (counters.liveBlocks > counters.peakLiveBlocks)
      counters.peakLiveBlocks = counters.liveBlocks;
    if (counters.liveBytes > counters.peakLiveBytes) counters.peakLiveBytes = counters.liveBytes;
  }

  private pickSize(): number {
    const roll = this.random.next();
    if (roll < LARGE_SHARE) return this.random.between(LARGE_MIN, LARGE_MAX);
    if (roll < LARGE_SHARE + MEDIUM_SHARE) return this.random.between(MEDIUM_MIN, MEDIUM_MAX);
    if (this.random.next() < COMMON_SIZE_SHARE)
      return COMMON_SMALL_SIZES[this.random.below(COMMON_SMALL_SIZES.length)]!;
    return this.random.between(SMALL_MIN, SMALL_MAX);
  }

  private freeOne(): void {
    const recent = this.shortLived;
    if (recent.count > 0 && (this.longLived.count === 0 || this.random.next() < SHORT_FREE_SHARE)) {
      this.release(
        recent,
        recent.count - 1 - this.random.below(Math.min(RECENT_WINDOW, recent.count)),
      );
    } else {
      this.release(this.longLived, this.random.below(this.longLived.count));
    }
    this.counters.frees++;
    this.counters.operations++;
  }

  private release(pool: BlockPool, index: number): void {
    const ptr = pool.pointers[index]!;
    const size = pool.sizes[index]!;
    this.verify(ptr, size, pool.tags[index]!);
    this.libc.free(ptr);
    pool.removeAt(index);
    this.counters.liveBlocks--;
    this.counters.liveBytes -= size;
  }

  /** Resizes a held block, long-lived ones first (growing buffers tend to live long). */
  private reallocOne(): void {
    const pool = this.longLived.count > 0 ? this.longLived : this.shortLived;
    const index = this.random.below(pool.count);
    const ptr = pool.pointers[index]!;
    const oldSize = pool.sizes[index]!;
    const tag = pool.tags[index]!;
    let newSize =
      this.random.next() < REALLOC_GROW_SHARE
        ? Math.ceil(oldSize * (1.25 + 0.75 * this.random.next()))
        : Math.floor(oldSize * (0.5 + 0.4 * this.random.next()));
    newSize = Math.min(REALLOC_MAX, Math.max(1, newSize));
    this.verify(ptr, oldSize, tag);
    const fresh = this.libc.realloc(ptr, newSize);
    const counters = this.counters;
    counters.operations++;
    if (fresh === 0) {
      counters.failures++;
      return;
    }
    if (fresh !== ptr) counters.movedReallocs++;
    // The first byte must have come along; the last one is new.
    this.verifyByte(fresh, newSize, tag, fresh, "first");
    this.memory.write8(fresh + newSize - 1, tag);
    pool.pointers[index] = fresh;
    pool.sizes[index] = newSize;
    counters.reallocs++;
    counters.bytesRequested += newSize;
    counters.liveBytes += newSize - oldSize;
    if (counters.liveBytes > counters.peakLiveBytes) counters.peakLiveBytes = counters.liveBytes;
  }

  // ---------------------------------------------------------------- checks

  private nextTag(): number {
    // 1..255: a zero tag would not tell a written byte from fresh memory.
    this.serial = (this.serial % 255) + 1;
    return this.serial;
  }

  private verify(ptr: number, size: number, tag: number): void {
    this.verifyByte(ptr, size, tag, ptr, "first");
    this.verifyByte(ptr, size, tag, ptr + size - 1, "last");
  }

  private verifyByte(ptr: number, size: number, tag: number, at: number, which: string): void {
    const actual = this.memory.read8(at);
    if (actual !== tag) {
      this.misbehaved(
        `block ${hex(ptr)} (${size} bytes) lost its data: its ${which} byte is ${hex(actual)}, ${hex(tag)} was written ` +
          "(another block or heap metadata overlaps it)",
      );
    }
  }

  private misbehaved(what: string): never {
    throw new AllocatorError(
      "ECORRUPT",
      `workload on ${this.heap.name}, operation ${this.opsDone + 1}: ${what}`,
    );
  }
}

/** Runs a workload to the end, frees what it still holds, and returns its counters. */
export function runWorkload(heap: Heap, options: WorkloadOptions): WorkloadCounters {
  const workload = new Workload(heap, options);
  workload.run();
  workload.releaseAll();
  return workload.snapshot();
}
