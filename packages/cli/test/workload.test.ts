import {
  AllocatorError,
  FlatMemory,
  FlatPageSource,
  ListHeap,
  MiB,
  type Heap,
  type HeapStats,
} from "@allockit/core";
import { describe, expect, it } from "vitest";
import { Workload, runWorkload, type WorkloadCounters } from "../src/workload.js";

function freshHeap(options: { sizeMiB?: number; pageLimit?: number } = {}): ListHeap {
  const memory = new FlatMemory((options.sizeMiB ?? 64) * MiB);
  const source = new FlatPageSource(
    memory,
    options.pageLimit === undefined ? {} : { pageLimit: options.pageLimit },
  );
  return new ListHeap(source);
}

function expectCountersMatchHeap(counters: WorkloadCounters, stats: HeapStats): void {
  expect(counters.operations).toBe(
    counters.allocs + counters.frees + counters.reallocs + counters.failures,
  );
  // A realloc that moves the block allocates a new one and frees the old one inside libc.
  expect(stats.allocs).toBe(counters.allocs + counters.movedReallocs);
  expect(stats.frees).toBe(counters.frees + counters.movedReallocs + counters.releasedBlocks);
  expect(stats.failedAllocs).toBe(counters.failures);
  expect(stats.liveBlocks).toBe(counters.liveBlocks);
  // Usable sizes are at least the requested ones.
  expect(stats.liveBytes).toBeGreaterThanOrEqual(counters.liveBytes);
  expect(stats.peakLiveBytes).toBeGreaterThanOrEqual(counters.peakLiveBytes);
}

describe("Workload", () => {
  it("replays the same operations for the same seed, and others for another seed", () => {
    const runs = [7, 7, 8].map((seed) => {
      const heap = freshHeap();
      const workload = new Workload(heap, { ops: 20_000, seed });
      const counters = workload.run();
      return { counters, stats: heap.stats() };
    });
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]!.counters).not.toEqual(runs[0]!.counters);
  });

  it("keeps counters consistent with the heap's stats, before and after releasing", () => {
    const heap = freshHeap();
    const workload = new Workload(heap, { ops: 30_000, seed: 3 });
    const counters = workload.run();
    expect(counters.operations).toBe(30_000);
    expectCountersMatchHeap(counters, heap.stats());
    heap.check();

    const leftLive = counters.liveBlocks;
    expect(workload.releaseAll()).toBe(leftLive);
    const released = workload.snapshot();
    expect(released).toMatchObject({
      liveBlocks: 0,
      liveBytes: 0,
      releasedBlocks: leftLive,
      operations: 30_000,
    });
    expectCountersMatchHeap(released, heap.stats());
    expect(heap.stats().liveBlocks).toBe(0);
    heap.check();
  });

  it("mixes sizes, alignments, calloc, realloc and phases, within the live-block bound", () => {
    const heap = freshHeap();
    const maxLiveBlocks = 1500;
    const counters = runWorkload(heap, { ops: 40_000, seed: 11, maxLiveBlocks });
    expect(counters.alignedAllocs).toBeGreaterThan(0);
    expect(counters.zeroedAllocs).toBeGreaterThan(0);
    expect(counters.reallocs).toBeGreaterThan(0);
    expect(counters.movedReallocs).toBeGreaterThan(0);
    expect(counters.movedReallocs).toBeLessThan(counters.reallocs);
    expect(counters.phases).toBeGreaterThan(2);
    expect(counters.peakLiveBlocks).toBeLessThanOrEqual(maxLiveBlocks);
    expect(counters.bytesRequested).toBeGreaterThanOrEqual(counters.peakLiveBytes);
    expect(counters.liveBlocks).toBe(0);
    heap.check();
  });

  it("counts out-of-memory as failures and carries on", () => {
    const heap = freshHeap({ pageLimit: 200 });
    const workload = new Workload(heap, { ops: 20_000, seed: 5 });
    const counters = workload.run();
    expect(counters.failures).toBeGreaterThan(0);
    expectCountersMatchHeap(counters, heap.stats());
    workload.releaseAll();
    heap.check();
  });

  it("reports progress at each interval and at the end", () => {
    const calls: Array<[number, number]> = [];
    runWorkload(freshHeap(), {
      ops: 2_500,
      seed: 1,
      progressEvery: 1_000,
      onProgress: (done, total) => calls.push([done, total]),
    });
    expect(calls).toEqual([
      [1_000, 2_500],
      [2_000, 2_500],
      [2_500, 2_500],
    ]);
  });

  it("catches a heap that hands out a block overlapping a live one", () => {
    const inner = freshHeap();
    let calls = 0;
    let previous = 0;
    // Once, from the 500th call, hands back the previous block again when it is big enough.
    const overlapping: Heap = {
      name: "overlapping",
      memory: inner.memory,
      defaultAlign: inner.defaultAlign,
      maxAlign: inner.maxAlign,
      releasesMemory: inner.releasesMemory,
      heap_alloc(size, align) {
        calls++;
        if (
          calls >= 500 &&
          calls < 1_000_000 &&
          previous !== 0 &&
          inner.heap_size(previous) >= size
        ) {
          calls = 1_000_000;
          return previous;
        }
        previous = inner.heap_alloc(size, align);
        return previous;
      },
      heap_size: (ptr) => inner.heap_size(ptr),
      heap_free: (ptr) => inner.heap_free(ptr),
      stats: () => inner.stats(),
      check: () => inner.check(),
    };
    let caught: unknown;
    try {
      runWorkload(overlapping, { ops: 20_000, seed: 2 });
    } catch (error) {
      caught = error;
    }
    expect(calls, "the heap aliased a block").toBeGreaterThanOrEqual(1_000_000);
    expect(caught).toBeInstanceOf(AllocatorError);
    expect((caught as AllocatorError).code).toBe("ECORRUPT");
    expect((caught as AllocatorError).message).toMatch(/overlapping.*lost its data/);
  });

  it("rejects options that are not whole numbers", () => {
    const heap = freshHeap({ sizeMiB: 1 });
    expect(() => new Workload(heap, { ops: -1, seed: 1 })).toThrow(/ops -1/);
    expect(() => new Workload(heap, { ops: 10, seed: 1.5 })).toThrow(/seed 1.5/);
    expect(() => new Workload(heap, { ops: 10, seed: 1, maxLiveBlocks: 0 })).toThrow(
      /maxLiveBlocks 0/,
    );
  });
});
