import {
  AllocatorError,
  checkCount,
  checkPointer,
  checkSize,
  describeValue,
  effectiveAlign,
} from "@allockit/core";
import type { Heap, HeapStats, Memory } from "@allockit/core";
import type { GuardHeap } from "./guard-heap.js";

export interface SamplingHeapOptions {
  /** One heap_alloc in `every` goes to the guard heap (default 100); 1 guards them all. */
  every?: number;
  /**
   * Sample at random, each allocation with probability 1 / every, from this seed; without it
   * every `every`-th allocation is guarded (the first guarded one is the `every`-th).
   */
  seed?: number;
}

/** Default sampling interval. */
export const DEFAULT_SAMPLE_EVERY = 100;

/**
 * Sampling mode, as KFENCE and GWP-ASan run in production: a heap that sends one allocation
 * in `every` through a {@link GuardHeap} and the rest to the heap it wraps (slab, bucket, any
 * heap plugin). A guarded allocation the guard heap cannot place falls back to the wrapped heap.
 * heap_size and heap_free go by address: the guard heap's records say which pointers are its
 * own. Both heaps must reach their blocks through the same memory; `memory` is the guard
 * heap's, which turns faults in guarded objects into reports.
 */
export class SamplingHeap implements Heap {
  readonly name: string;
  readonly memory: Memory;
  readonly defaultAlign: number;
  readonly maxAlign: number;
  readonly releasesMemory: boolean;
  readonly every: number;
  private countdown: number;
  private random: number;
  private readonly seeded: boolean;
  private liveBytes = 0;
  private peakLiveBytes = 0;
  private allocs = 0;
  private frees = 0;
  private failedAllocs = 0;
  private sampled = 0;

  constructor(
    readonly wrapped: Heap,
    readonly guard: GuardHeap,
    options: SamplingHeapOptions = {},
  ) {
    const every = options.every ?? DEFAULT_SAMPLE_EVERY;
    checkCount(every, "every");
    this.every = every;
    this.countdown = every;
    this.seeded = options.seed !== undefined;
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed)) {
      throw new AllocatorError("EINVAL", `seed ${describeValue(seed)} is not an integer`, seed);
    }
    this.random = (seed ^ 0x9e3779b9) >>> 0 || 1;
    this.name = `guard-sampling(${wrapped.name})`;
    this.memory = guard.memory;
    this.defaultAlign = Math.max(wrapped.defaultAlign, guard.defaultAlign);
    this.maxAlign = Math.max(this.defaultAlign, Math.min(wrapped.maxAlign, guard.maxAlign));
    this.releasesMemory = wrapped.releasesMemory && guard.releasesMemory;
  }

  heap_alloc(size: number, align?: number): number {
    checkSize(size);
    const alignment = effectiveAlign(align, this.defaultAlign, this.maxAlign);
    let ptr = 0;
    let usable = 0;
    if (this.sample()) {
      ptr = this.guard.heap_alloc(size, alignment);
      if (ptr !== 0) {
        this.sampled++;
        usable = this.guard.heap_size(ptr);
      }
    }
    if (ptr === 0) {
      ptr = this.wrapped.heap_alloc(size, alignment);
      if (ptr === 0) {
        this.failedAllocs++;
        return 0;
      }
      usable = this.wrapped.heap_size(ptr);
    }
    this.allocs++;
    this.liveBytes += usable;
    if (this.liveBytes > this.peakLiveBytes) this.peakLiveBytes = this.liveBytes;
    return ptr;
  }

  heap_size(ptr: number): number {
    const guarded = this.guard.heap_size(ptr);
    return guarded !== 0 ? guarded : this.wrapped.heap_size(ptr);
  }

  heap_free(ptr: number): void {
    if (ptr === 0) return;
    checkPointer(ptr);
    let usable = this.guard.heap_size(ptr);
    if (usable !== 0) {
      this.guard.heap_free(ptr);
    } else {
      usable = this.wrapped.heap_size(ptr);
      // A freed or bad pointer near a guarded object gets the guard heap's report.
      if (usable === 0 && this.guard.claims(ptr)) this.guard.heap_free(ptr);
      this.wrapped.heap_free(ptr);
    }
    this.liveBytes -= usable;
    this.frees++;
  }

  stats(): HeapStats {
    const guard = this.guard.stats();
    const wrapped = this.wrapped.stats();
    const extra: Record<string, number> = { sampled: this.sampled, every: this.every };
    for (const [key, value] of Object.entries(guard.extra ?? {})) extra[`guard.${key}`] = value;
    for (const [key, value] of Object.entries(wrapped.extra ?? {})) extra[`wrapped.${key}`] = value;
    return {
      liveBlocks: guard.liveBlocks + wrapped.liveBlocks,
      liveBytes: guard.liveBytes + wrapped.liveBytes,
      requestedBytes: guard.requestedBytes + wrapped.requestedBytes,
      peakLiveBytes: this.peakLiveBytes,
      footprintBytes: guard.footprintBytes + wrapped.footprintBytes,
      // The sum of both peaks: an upper bound, as the two peaks need not coincide.
      peakFootprintBytes: guard.peakFootprintBytes + wrapped.peakFootprintBytes,
      allocs: this.allocs,
      frees: this.frees,
      failedAllocs: this.failedAllocs,
      extra,
    };
  }

  check(): void {
    this.guard.check();
    this.wrapped.check();
  }

  dump(): string {
    const header = `${this.name}: 1 in ${this.every} allocation(s) guarded${this.seeded ? " (at random)" : ""}, ${this.sampled} so far\n`;
    return header + this.guard.dump() + (this.wrapped.dump?.() ?? `${this.wrapped.name}\n`);
  }

  private sample(): boolean {
    if (this.seeded) {
      // xorshift32
      let x = this.random;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.random = x >>> 0;
      return this.random % this.every === 0;
    }
    if (--this.countdown !== 0) return false;
    this.countdown = this.every;
    return true;
  }
}
