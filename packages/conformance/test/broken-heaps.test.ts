import type { Heap } from "@allockit/core";
import { describe, expect, it } from "vitest";
import {
  ConformanceViolation,
  flatHeapFactory,
  runAlignmentSweep,
  runBadArgumentTable,
  runBadPointerTable,
  runHeapConformance,
  runHeapModel,
  runOutOfMemory,
  runFailureInjection,
  runReleaseScenario,
} from "../src/index.js";
import type { HeapConformanceOptions, HeapFactory } from "../src/index.js";
import type { PageSource } from "@allockit/core";
import {
  IgnoresAlignmentHeap,
  InteriorSizeHeap,
  LeaksPagesHeap,
  LeaksOnFailedGrowthHeap,
  LyingSizeHeap,
  MetadataInUserDataHeap,
  MiscountingHeap,
  ReusesLiveBlockHeap,
  ShortBlockHeap,
  SilentDoubleFreeHeap,
  StickyOutOfMemoryHeap,
  ThrowsWhenExhaustedHeap,
  UncheckedArgumentsHeap,
} from "./broken-heaps.js";

/** Few runs and a fixed seed: each bug is caught within the first handful of sequences. */
const MODEL_OPTIONS: HeapConformanceOptions = { numRuns: 200, seed: 424242 };

function factoryOf(create: (source: PageSource) => Heap): HeapFactory {
  return flatHeapFactory(create);
}

/** The error the model run throws on `factory`'s heap; fails the test when there is none. */
function modelFailure(
  factory: HeapFactory,
  options: HeapConformanceOptions = MODEL_OPTIONS,
): Error {
  try {
    runHeapModel(factory, options);
  } catch (error) {
    return error as Error;
  }
  throw new Error("runHeapModel accepted a broken heap");
}

/** The violation a deterministic scenario throws. */
function scenarioFailure(run: () => unknown): ConformanceViolation {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConformanceViolation);
    return error as ConformanceViolation;
  }
  throw new Error("the scenario accepted a broken heap");
}

describe("the heap suite fails on broken heaps", () => {
  it("reports fast-check's seed, path and shrunk command sequence with the violation", () => {
    const failure = modelFailure(factoryOf((source) => new ReusesLiveBlockHeap(source)));
    expect(failure.message).toMatch(/seed: 424242/);
    expect(failure.message).toMatch(/path: "[\d:]+"/);
    expect(failure.message).toMatch(/Counterexample: .*heap_alloc\(\d+, \d+\)/);
    expect(failure.message).toMatch(/\[overlap\]/);
    expect(failure.message).toMatch(/last steps of heap "reuses-live-block"/);
  });

  it("fails again when replayed from the printed seed, path and replayPath", () => {
    const factory = factoryOf((source) => new MetadataInUserDataHeap(source));
    const report = modelFailure(factory).message;
    const path = /path: "([\d:]+)"/.exec(report)?.[1];
    const replayPath = /replayPath="([^"]+)"/.exec(report)?.[1];
    expect(path).toBeDefined();
    expect(replayPath).toBeDefined();
    const replayed = modelFailure(factory, { seed: 424242, path: path!, replayPath: replayPath! });
    expect(replayed.message).toMatch(/Shrunk 0 time\(s\)/);
    expect(replayed.message).toMatch(/\[pattern\]/);
  });

  it("catches a heap that hands out a live block again", () => {
    expect(modelFailure(factoryOf((source) => new ReusesLiveBlockHeap(source))).message).toMatch(
      /\[overlap\].*overlaps live b\d+/,
    );
  });

  it("catches a heap that ignores the alignment argument", () => {
    const factory = factoryOf((source) => new IgnoresAlignmentHeap(source));
    expect(modelFailure(factory).message).toMatch(
      /\[alignment\] heap_alloc\(\d+, \d+\) returned 0x[0-9a-f]+, which is not aligned to \d+/,
    );
    expect(scenarioFailure(() => runAlignmentSweep(factory)).check).toBe("alignment");
  });

  it("catches a heap that writes its metadata into user data", () => {
    const failure = modelFailure(factoryOf((source) => new MetadataInUserDataHeap(source)));
    expect(failure.message).toMatch(/\[pattern\] live b\d+ .* was changed: at \+0 /);
  });

  it("catches a heap that lets a double free pass silently", () => {
    const factory = factoryOf((source) => new SilentDoubleFreeHeap(source));
    expect(modelFailure(factory).message).toMatch(
      /\[bad-free\] heap_free\(0x[0-9a-f]+\) of freed pointer of b\d+ .*returned normally/,
    );
    const violation = scenarioFailure(() => runBadPointerTable(factory));
    expect(violation.check).toBe("bad-free");
    expect(violation.message).toMatch(/freed pointer/);
  });

  it("catches a heap whose heap_size claims more bytes than the block has", () => {
    expect(modelFailure(factoryOf((source) => new LyingSizeHeap(source))).message).toMatch(
      /\[stats\] stats\(\)\.liveBytes is \d+, expected \d+/,
    );
  });

  it("catches a heap whose heap_size answers for interior pointers", () => {
    const factory = factoryOf((source) => new InteriorSizeHeap(source));
    expect(modelFailure(factory).message).toMatch(
      /\[heap-size-probe\] heap_size\(0x[0-9a-f]+\) returned \d+ for interior pointer/,
    );
    expect(scenarioFailure(() => runBadPointerTable(factory)).check).toBe("heap-size-probe");
  });

  it("catches a heap that hands out fewer usable bytes than asked for", () => {
    expect(modelFailure(factoryOf((source) => new ShortBlockHeap(source))).message).toMatch(
      /\[usable-size\].*heap_size says \d+ < \d+ bytes asked for/,
    );
  });

  it("catches a heap that claims to release memory but keeps pages", () => {
    const factory = factoryOf((source) => new LeaksPagesHeap(source));
    expect(modelFailure(factory).message).toMatch(
      /\[release\] after freeing every block the page source has \d+ page\(s\) in use, 0 before/,
    );
    expect(scenarioFailure(() => runReleaseScenario(factory)).check).toBe("release");
  });

  it("catches a heap that never recovers from running out of memory", () => {
    const factory = factoryOf((source) => new StickyOutOfMemoryHeap(source));
    expect(modelFailure(factory).message).toMatch(
      /\[out-of-memory\] .* returned 0 although its page source refused no request/,
    );
    // After frees leave pages to spare, a 0 the page source did not cause is the heap's own.
    expect(scenarioFailure(() => runOutOfMemory(factory)).message).toMatch(
      /\[out-of-memory\] heap_alloc\(48, 0\) returned 0 although its page source refused no request/,
    );
  });

  it("catches a heap that throws instead of returning 0 when out of memory", () => {
    const factory = factoryOf((source) => new ThrowsWhenExhaustedHeap(source));
    expect(modelFailure(factory).message).toMatch(
      /\[unexpected-error\] (heap_alloc|realloc)\(.*threw AllocatorError: ENOMEM/,
    );
    expect(scenarioFailure(() => runOutOfMemory(factory)).check).toBe("unexpected-error");
  });

  it("catches a heap that accepts malformed sizes and alignments", () => {
    const factory = factoryOf((source) => new UncheckedArgumentsHeap(source));
    const violation = scenarioFailure(() => runBadArgumentTable(factory));
    expect(violation.check).toBe("bad-argument");
    expect(violation.message).toMatch(
      /heap_alloc\(-1, 0\) returned \d+; it must throw AllocatorError EINVAL/,
    );
    expect(modelFailure(factory).message).toMatch(
      /\[bad-argument\] heap_alloc\(.*\) returned \d+; it must throw AllocatorError EINVAL/,
    );
  });

  it("catches a heap whose stats miscount live blocks", () => {
    expect(modelFailure(factoryOf((source) => new MiscountingHeap(source))).message).toMatch(
      /\[stats\] stats\(\)\.liveBlocks is \d+, expected \d+/,
    );
  });

  it("catches a heap that leaks pages when a page request in the middle of an allocation fails", () => {
    const factory = factoryOf((source) => new LeaksOnFailedGrowthHeap(source));
    const violation = scenarioFailure(() => runFailureInjection(factory, { seed: 7 }));
    expect(violation.check).toBe("release");
    expect(violation.message).toMatch(/failure injection: page request #\d+ fails/);
  });

  it("fails the whole suite run (runHeapConformance) on a broken heap", () => {
    expect(() =>
      runHeapConformance(
        factoryOf((source) => new ReusesLiveBlockHeap(source)),
        MODEL_OPTIONS,
      ),
    ).toThrow(/overlap/);
  });
});
