import type { HeapStats } from "./contracts/heap.js";

/**
 * The live-block counters behind {@link HeapStats}, kept by a heap on its hot paths: plain
 * number fields updated by small methods, so counting allocates nothing. The footprint is the
 * heap's own business (arenas, buckets, slabs ...) and is passed in when the stats are read.
 */
export class HeapCounters {
  liveBlocks = 0;
  liveBytes = 0;
  requestedBytes = 0;
  peakLiveBytes = 0;
  allocs = 0;
  frees = 0;
  failedAllocs = 0;

  /** A block of `usable` bytes handed out for a request of `requested` bytes. */
  allocated(usable: number, requested: number): void {
    this.liveBlocks++;
    this.liveBytes += usable;
    this.requestedBytes += requested;
    if (this.liveBytes > this.peakLiveBytes) this.peakLiveBytes = this.liveBytes;
    this.allocs++;
  }

  /** A live block taken back. */
  released(usable: number, requested: number): void {
    this.liveBlocks--;
    this.liveBytes -= usable;
    this.requestedBytes -= requested;
    this.frees++;
  }

  /** A live block resized in place (a realloc that did not move). */
  resized(usableDelta: number, requestedDelta: number): void {
    this.liveBytes += usableDelta;
    this.requestedBytes += requestedDelta;
    if (this.liveBytes > this.peakLiveBytes) this.peakLiveBytes = this.liveBytes;
  }

  /** A heap_alloc that returned 0. */
  failed(): void {
    this.failedAllocs++;
  }

  /** The counters as HeapStats, with the heap's footprint and extra figures. */
  stats(
    footprintBytes: number,
    peakFootprintBytes: number,
    extra?: Record<string, number>,
  ): HeapStats {
    return {
      liveBlocks: this.liveBlocks,
      liveBytes: this.liveBytes,
      requestedBytes: this.requestedBytes,
      peakLiveBytes: this.peakLiveBytes,
      footprintBytes,
      peakFootprintBytes,
      allocs: this.allocs,
      frees: this.frees,
      failedAllocs: this.failedAllocs,
      ...(extra === undefined ? {} : { extra }),
    };
  }
}
