import { describe, expect, it } from "vitest";
import {
  FailingPageSource,
  FlatMemory,
  FlatPageSource,
  isAllocatorError,
  type PageSource,
} from "@allockit/core";

function wrapped(pageLimit?: number): { inner: FlatPageSource; source: FailingPageSource } {
  const inner = new FlatPageSource(new FlatMemory(64 * 4096));
  return {
    inner,
    source: new FailingPageSource(inner, pageLimit === undefined ? {} : { pageLimit }),
  };
}

describe("FailingPageSource", () => {
  it("passes requests through until armed, then fails only the chosen one in mode once", () => {
    const { inner, source } = wrapped();
    expect(source.allocPages(1)).not.toBe(0);
    source.arm(2, "once");
    const results = [1, 1, 1, 1, 1].map((n) => source.allocPages(n));
    expect(results.map((addr) => addr === 0)).toEqual([false, false, true, false, false]);
    expect(source.tripped).toBe(true);
    expect(source.stats()).toMatchObject({ pagesInUse: 5, failedCalls: 1, allocCalls: 6 });
    expect(inner.stats().pagesInUse).toBe(5);
  });

  it("fails the chosen request and every later one in mode from, until disarmed", () => {
    const { source } = wrapped();
    source.arm(1, "from");
    expect(source.allocPages(2)).not.toBe(0);
    expect(source.allocPages(1)).toBe(0);
    expect(source.allocPages(1)).toBe(0);
    source.disarm();
    expect(source.tripped).toBe(false);
    expect(source.allocPages(1)).not.toBe(0);
    expect(source.stats().failedCalls).toBe(2);
  });

  it("enforces its page limit and counts frees", () => {
    const { source } = wrapped(3);
    const a = source.allocPages(2);
    expect(source.allocPages(2)).toBe(0);
    source.freePages(a, 2);
    expect(source.allocPages(3)).not.toBe(0);
    expect(source.stats()).toMatchObject({ pageLimit: 3, pagesInUse: 3, peakPagesInUse: 3 });
  });

  it("rejects a bad page limit or failure index with EINVAL naming the value", () => {
    const inner = new FlatPageSource(new FlatMemory(8 * 4096));
    expect(() => new FailingPageSource(inner, { pageLimit: -2 })).toThrow(/-2/);
    const source = new FailingPageSource(inner);
    for (const bad of [-1, 1.5, Number.NaN]) {
      let error: unknown;
      try {
        source.arm(bad);
      } catch (thrown) {
        error = thrown;
      }
      expect(isAllocatorError(error) && error.code === "EINVAL").toBe(true);
      expect((error as Error).message).toContain(String(bad));
    }
  });

  it("passes the inner source's memory, constraints, translation and page ownership through", () => {
    const { inner, source } = wrapped();
    expect(source.memory).toBe(inner.memory);
    expect(source.physicalConstraints).toBe(inner.physicalConstraints);
    const addr = source.allocPages(1, { physical: { below: 16 * 4096 } });
    expect(addr).toBeLessThan(16 * 4096);
    expect(source.translate(addr)).toBe(addr);
    expect(source.isInUse!(addr)).toBe(true);
    source.freePages(addr, 1);
    expect(source.isInUse!(addr)).toBe(false);
  });

  it("has no ownership probe when the inner source has none (a check skips it, not passes it)", () => {
    const { inner } = wrapped();
    const bare: PageSource = {
      pageSize: inner.pageSize,
      memory: inner.memory,
      allocPages: (count, options) => inner.allocPages(count, options),
      freePages: (addr, count) => inner.freePages(addr, count),
      stats: () => inner.stats(),
    };
    expect(new FailingPageSource(bare).isInUse).toBeUndefined();
    expect(new FailingPageSource(inner).isInUse).toBeTypeOf("function");
  });
});
