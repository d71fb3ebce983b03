import { describe, expect, it } from "vitest";
import {
  ConformanceViolation,
  runPmmBadArguments,
  runPmmBadFrees,
  runPmmConformance,
  runPmmExhaustion,
  runPmmInit,
  runPmmModel,
  runPmmReserve,
} from "../src/index.js";
import type { PmmConformanceOptions, PmmFactory } from "../src/index.js";
import {
  DoubleHandsPmm,
  HandsOutFrameZeroPmm,
  HandsOutKernelPmm,
  IgnoresAlignPmm,
  IgnoresBoundaryPmm,
  IgnoresBelowPmm,
  IgnoresZonePmm,
  LeavesBootUncappedPmm,
  LosesFrameOnFreePmm,
  NoZoneFallbackPmm,
  ReserveDoesNothingPmm,
  ReservesAllocatedPmm,
  SilentDoubleFreePmm,
  SlowPmm,
  StaleFrameQueryPmm,
  SilentlyIgnoresUndeclaredPmm,
  TouchesEveryFramePmm,
  WritesPastRunPmm,
  WrongFreeCountPmm,
} from "./pmm-broken.js";

/** Few runs and a fixed seed: each bug shows within the first handful of sequences. */
const MODEL: PmmConformanceOptions = { numRuns: 200, seed: 424242 };

/** The violation `run` throws; fails the test when it throws nothing or something else. */
function violation(run: () => unknown): ConformanceViolation {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConformanceViolation);
    return error as ConformanceViolation;
  }
  throw new Error("the check accepted a broken PMM");
}

function modelViolation(
  factory: PmmFactory,
  options: PmmConformanceOptions = MODEL,
): ConformanceViolation {
  return violation(() => runPmmModel(factory, options));
}

describe("the PMM suite fails on broken PMMs", () => {
  it("catches a PMM that ignores `below`", () => {
    const found = modelViolation(() => new IgnoresBelowPmm());
    expect(found.check).toBe("below");
    expect(found.message).toMatch(
      /\[below\] allocFrames\(\d+, \{.*below: 0x[0-9a-f]+.*\}\) returned \[0x[0-9a-f]+, 0x[0-9a-f]+\), which ends above below = 0x[0-9a-f]+/,
    );
  });

  it("catches a PMM whose isFrameFree disagrees with what it handed out", () => {
    const found = modelViolation(() => new StaleFrameQueryPmm());
    expect(found.check).toBe("frame-query");
    expect(found.message).toMatch(
      /isFrameFree\(0x[0-9a-f]+\) is true for .*; the model says false/,
    );
  });

  it("catches a PMM that hands out a frame twice", () => {
    const found = modelViolation(() => new DoubleHandsPmm());
    expect(found.check).toBe("overlap");
    expect(found.message).toMatch(
      /frame 0x[0-9a-f]+ is still allocated in r\d+ .*: a frame handed out twice/,
    );
  });

  it("catches a PMM that loses a frame on free", () => {
    const found = modelViolation(() => new LosesFrameOnFreePmm());
    expect(found.check).toBe("stats");
    expect(found.message).toMatch(/stats\(\)\.freeFrames is \d+, expected \d+/);
    // The exhaustion check sees it too: fewer frames come back than were freed.
    expect(violation(() => runPmmExhaustion(() => new LosesFrameOnFreePmm())).check).toMatch(
      /stats|exhaustion/,
    );
  });

  it("prints fast-check's seed, path, shrunk sequence and how to replay the failure", () => {
    const found = modelViolation(() => new IgnoresBelowPmm());
    expect(found.message).toMatch(/seed: 424242/);
    expect(found.message).toMatch(/path: "[\d:]+"/);
    expect(found.message).toMatch(/Counterexample: .*allocFrames\(/);
    expect(found.message).toMatch(/Shrunk \d+ time\(s\)/);
    expect(found.message).toMatch(/(last steps of|in) PMM "ignores-below" on map/);
    const replay =
      /replay with the options \{ seed: (-?\d+), path: ("[\d:]+"), (?:replayPath: ("[^"]+"), )?maps: \[("[^"]+")\] \}/.exec(
        found.message,
      );
    expect(replay).not.toBeNull();
    const again = modelViolation(() => new IgnoresBelowPmm(), {
      seed: Number(replay![1]),
      path: JSON.parse(replay![2]!) as string,
      ...(replay![3] === undefined ? {} : { replayPath: JSON.parse(replay![3]) as string }),
      maps: [JSON.parse(replay![4]!) as string],
    });
    expect(again.check).toBe("below");
    expect(again.message).toMatch(/Shrunk 0 time\(s\)/);
  });

  it("catches a PMM that ignores `zone`", () => {
    const found = modelViolation(() => new IgnoresZonePmm());
    expect(found.check).toBe("zone");
    expect(found.message).toMatch(/outside zone (DMA|DMA32|NORMAL)/);
  });

  it("catches a PMM that ignores `align`", () => {
    expect(modelViolation(() => new IgnoresAlignPmm()).check).toBe("align");
  });

  it("catches a PMM that ignores `boundary`", () => {
    const found = modelViolation(() => new IgnoresBoundaryPmm());
    expect(found.check).toBe("boundary");
    expect(found.message).toMatch(/which crosses 0x[0-9a-f]+, a multiple of boundary 0x[0-9a-f]+/);
  });

  it("catches a PMM whose reserve() takes nothing out", () => {
    const found = violation(() => runPmmReserve(() => new ReserveDoesNothingPmm()));
    expect(found.check).toBe("stats");
    expect(found.message).toMatch(/- 1 taken by reserve\(\)\)/);
  });

  it("catches a PMM that hands out a kernel frame", () => {
    const found = modelViolation(() => new HandsOutKernelPmm());
    expect(found.check).toBe("managed");
    expect(found.message).toMatch(/frame 0x100000 is inside the kernel \[0x100000, 0x300000\)/);
  });

  it("catches a PMM that hands out frame 0 (a 0 that used up memory or hid free frames)", () => {
    const found = modelViolation(() => new HandsOutFrameZeroPmm());
    expect(found.check).toBe("out-of-memory");
    expect(found.message).toMatch(
      /returned 0 (although frame 0x[0-9a-f]+ is free|but stats\(\)\.freeFrames is \d+)/,
    );
  });

  it("catches a PMM that lets a double free pass silently", () => {
    const found = violation(() => runPmmBadFrees(() => new SilentDoubleFreePmm()));
    expect(found.check).toBe("bad-free");
    expect(found.message).toMatch(
      /freeFrames\(0x[0-9a-f]+, \d+\) \(frames of r\d+ freed at step #\d+\) returned undefined; it must throw AllocatorError EDOUBLEFREE or EFAULT or EINVAL/,
    );
    expect(modelViolation(() => new SilentDoubleFreePmm()).check).toBe("bad-free");
  });

  it("catches a PMM whose stats() miscount free frames", () => {
    const found = violation(() => runPmmInit(() => new WrongFreeCountPmm()));
    expect(found.check).toBe("stats");
    expect(found.message).toMatch(
      /stats\(\)\.freeFrames is (\d+), expected \d+ \(\d+ managed frames - 0 allocated - 0 taken by reserve\(\)\)/,
    );
    expect(found.message).toMatch(/on map "qemu-i440fx-128m"/);
  });

  it("catches a PMM that writes metadata into an allocated frame", () => {
    const found = modelViolation(() => new WritesPastRunPmm());
    expect(found.check).toBe("pattern");
    expect(found.message).toMatch(
      /frame 0x[0-9a-f]+ of live r\d+ .* was changed.*: at \+0 it holds 0xdeadbeef/,
    );
  });

  it("catches a PMM that silently ignores constraints it does not declare", () => {
    const found = violation(() => runPmmBadArguments(() => new SilentlyIgnoresUndeclaredPmm()));
    expect(found.check).toBe("unsupported");
    expect(found.message).toMatch(
      /allocFrames\(1, \{ below: 0x100000000 \}\) returned 0x[0-9a-f]+; it must throw AllocatorError EUNSUPPORTED/,
    );
  });

  it("catches a PMM that reserves a range holding an allocated frame", () => {
    const found = violation(() => runPmmReserve(() => new ReservesAllocatedPmm()));
    expect(found.check).toBe("bad-reserve");
    expect(found.message).toMatch(
      /reserve\(\{ base: 0x[0-9a-f]+, length: 0x[0-9a-f]+ \}\) \(it holds allocated frame 0x[0-9a-f]+\) returned undefined/,
    );
  });

  it("catches a PMM that returns 0 while other zones still have frames", () => {
    const found = violation(() => runPmmExhaustion(() => new NoZoneFallbackPmm()));
    expect(found.check).toBe("out-of-memory");
    expect(found.message).toMatch(
      /allocFrames\(1\) returned 0 although frame 0x[0-9a-f]+ is free and satisfies the request/,
    );
  });

  it("catches a PMM that touches every frame at init", () => {
    const found = violation(() => runPmmInit(() => new TouchesEveryFramePmm()));
    expect(found.check).toBe("init-touch");
    expect(found.message).toMatch(
      /init wrote to \d+ pages of RAM .* init must not touch every frame/,
    );
  });

  it("caps the boot allocator itself when init did not, and says so", () => {
    const report = runPmmInit(() => new LeavesBootUncappedPmm());
    expect(report.maps.every((m) => m.bootCappedBySuite)).toBe(true);
  });

  it("stops a model run that would outlast its timeout, and says so", () => {
    const found = modelViolation(() => new SlowPmm(), { numRuns: 1000, seed: 1, timeoutMs: 1500 });
    expect(found.check).toBe("time");
    expect(found.message).toMatch(
      /ran out of time on map "generated" after \d+ of \d+ sequences .* raise timeoutMs or lower numRuns/,
    );
  });

  it("fails the whole suite run (runPmmConformance) on a broken PMM", () => {
    expect(() => runPmmConformance(() => new DoubleHandsPmm(), MODEL)).toThrow(
      ConformanceViolation,
    );
  });
});
