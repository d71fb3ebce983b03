import { describe, expect, it } from "vitest";
import {
  flatHeapFactory,
  heapConformance,
  runFailureInjection,
  runHeapConformance,
  runHeapModel,
} from "../src/index.js";
import type { HeapFactory } from "../src/index.js";
import { PagePerBlockHeap } from "./reference-heap.js";

// The suite as a plugin author runs it, on a heap known to be correct: every check must pass.
heapConformance(
  "reference page-per-block heap",
  flatHeapFactory((source) => new PagePerBlockHeap(source)),
);

describe("the suite outside vitest's describe", () => {
  it("reports what it checked on a correct heap", () => {
    const report = runHeapConformance(
      flatHeapFactory((source) => new PagePerBlockHeap(source)),
      {
        numRuns: 50,
        seed: 1234,
      },
    );
    expect(report.profile).toMatchObject({
      name: "page-per-block",
      defaultAlign: 16,
      releasesMemory: true,
      hasPageSource: true,
    });
    expect(report.model.seed).toBe(1234);
    // ALLOCKIT_FUZZ_RUNS may raise the count, never lower it.
    expect(report.model.numRuns).toBeGreaterThanOrEqual(50);
    expect(report.model.steps).toBeGreaterThan(50);
    expect(report.model.allocations).toBeGreaterThan(0);
    expect(report.badArguments.checked).toBeGreaterThanOrEqual(10);
    expect(report.badPointers.checked).toBeGreaterThan(10);
    expect(report.outOfMemory.skipped).toBeUndefined();
    expect(report.outOfMemory.checked).toBeGreaterThan(0);
    // Every block takes its own pages, so every allocation of the script is one request.
    const injection = report.failureInjection;
    expect(injection.skipped).toBeUndefined();
    expect(injection.pageRequests).toBeGreaterThan(10);
    expect(injection.runs).toEqual({ once: injection.pageRequests, from: injection.pageRequests });
    expect(injection.outOfMemory).toBeGreaterThanOrEqual(2 * injection.pageRequests);
  });

  it("samples evenly spread requests when the script makes more than maxFailurePoints", () => {
    const report = runFailureInjection(
      flatHeapFactory((source) => new PagePerBlockHeap(source)),
      { seed: 5, maxFailurePoints: 4 },
    );
    expect(report.pageRequests).toBeGreaterThan(4);
    expect(report.runs).toEqual({ once: 4, from: 4 });
  });

  it("skips failure injection when the factory does not pass its source through wrapPageSource", () => {
    const flat = flatHeapFactory((source) => new PagePerBlockHeap(source));
    const report = runFailureInjection((env) => flat({ ...env, wrapPageSource: undefined }), {
      seed: 3,
    });
    expect(report.skipped).toMatch(/wrapPageSource/);
    expect(report.runs).toEqual({ once: 0, from: 0 });
  });

  it("runs out of memory in the middle of random sequences and counts it", () => {
    const report = runHeapModel(
      flatHeapFactory((source) => new PagePerBlockHeap(source)),
      { numRuns: 200, seed: 99 },
    );
    expect(report.outOfMemory).toBeGreaterThan(0);
    expect(report.rejectedCalls).toBeGreaterThan(0);
    expect(report.reallocMoves).toBeGreaterThan(0);
  });

  it("runs on a heap without a visible page source, skipping the out-of-memory checks", () => {
    // Same heaps, but the suite is not shown the page source (memory still recycled).
    const flat = flatHeapFactory((source) => new PagePerBlockHeap(source));
    const factory: HeapFactory = (env) => {
      const { heap, dispose } = flat(env);
      return dispose === undefined ? { heap } : { heap, dispose };
    };
    const report = runHeapConformance(factory, { numRuns: 30, seed: 7 });
    expect(report.profile.hasPageSource).toBe(false);
    expect(report.outOfMemory.skipped).toMatch(/no pageSource/);
    expect(report.model.outOfMemory).toBe(0);
  });
});
