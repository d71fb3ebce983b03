import { describe, expect, it } from "vitest";
import { HeapCounters } from "@allockit/core";

describe("HeapCounters", () => {
  it("counts live blocks and bytes, keeps the peak, and reports them as HeapStats", () => {
    const counters = new HeapCounters();
    counters.allocated(32, 20);
    counters.allocated(64, 64);
    counters.resized(64, 40);
    counters.released(32, 20);
    counters.failed();
    counters.resized(-64, -50);
    expect(counters.stats(8192, 12288, { arenas: 2 })).toEqual({
      liveBlocks: 1,
      liveBytes: 64,
      requestedBytes: 54,
      peakLiveBytes: 160,
      footprintBytes: 8192,
      peakFootprintBytes: 12288,
      allocs: 2,
      frees: 1,
      failedAllocs: 1,
      extra: { arenas: 2 },
    });
    expect("extra" in counters.stats(0, 0)).toBe(false);
  });
});
