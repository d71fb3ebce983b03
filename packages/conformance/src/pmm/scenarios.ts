import { PAGE_SIZE, hex } from "@allockit/core";
import type { FrameConstraints, Zone } from "@allockit/core";
import { ConformanceViolation } from "../violation.js";
import {
  BAD_FREE_KINDS,
  badFreeTarget,
  expectRejectedAlloc,
  expectRejectedFree,
  malformedAllocRows,
  unsupportedAllocRows,
} from "./bad-calls.js";
import { expectRejectedReserve } from "./commands.js";
import { PmmEnvironment } from "./environment.js";
import type { PmmFactory } from "./environment.js";
import { PmmHarness, newPmmCounters } from "./harness.js";
import type { LiveRun } from "./harness.js";
import { presetTestMaps, realTestMaps, sampleMessyMaps, standardTestMap } from "./maps.js";
import type { PmmTestMap } from "./maps.js";
import { resolvePmmOptions } from "./options.js";
import type { PmmConformanceOptions, ResolvedPmmOptions } from "./options.js";
import { profilePmm } from "./profile.js";
import type { PmmProfile } from "./profile.js";
import { ZONE_PREFERENCE, roundUpTo } from "./spans.js";

/** What a deterministic check did. */
export interface PmmScenarioReport {
  readonly pmm: string;
  /** Calls, maps or cases checked. */
  readonly checked: number;
}

/** Per map, what init left behind. */
export interface PmmInitMapReport {
  readonly map: string;
  readonly totalFrames: number;
  readonly zoneFrames: Readonly<Record<Zone, number>>;
  readonly metadataBytes: number;
  readonly bootFrames: number;
  readonly touchedPages: number;
  /** True when init did not cap the boot allocator and the suite did. */
  readonly bootCappedBySuite: boolean;
}

export interface PmmInitReport extends PmmScenarioReport {
  readonly maps: readonly PmmInitMapReport[];
}

/** Generated maps the init check adds to the presets and real maps. */
const GENERATED_INIT_MAPS = 12;

interface Prepared {
  readonly profile: PmmProfile;
  readonly settings: ResolvedPmmOptions;
}

function prepare(factory: PmmFactory, options: PmmConformanceOptions): Prepared {
  return { profile: profilePmm(factory), settings: resolvePmmOptions(options) };
}

function freshHarness(factory: PmmFactory, prepared: Prepared, testMap: PmmTestMap): PmmHarness {
  const env = PmmEnvironment.boot(factory, testMap, prepared.settings.zoneLimits);
  return new PmmHarness(
    env,
    prepared.profile,
    prepared.settings.zoneLimits,
    newPmmCounters(),
    true,
  );
}

/** Every map the init check covers: presets, real maps, the standard messy map, generated ones. */
export function initTestMaps(seed: number): PmmTestMap[] {
  return [
    ...presetTestMaps(),
    ...realTestMaps(),
    standardTestMap(),
    ...sampleMessyMaps(seed, GENERATED_INIT_MAPS, "generated-init"),
  ];
}

/**
 * Init on every map: stats() shows exactly the frames the suite computed (usable RAM of the
 * normalised map, whole pages, minus frame 0, kernel, module and boot allocations; core's
 * managedRanges agrees), zones add up, check() passes, the boot allocator ends capped, init
 * touched only a sliver of RAM, and a first frame comes from the preferred zone and goes back.
 */
export function runPmmInit(
  factory: PmmFactory,
  options: PmmConformanceOptions = {},
): PmmInitReport {
  const prepared = prepare(factory, options);
  const maps: PmmInitMapReport[] = [];
  for (const testMap of initTestMaps(prepared.settings.seed)) {
    const harness = freshHarness(factory, prepared, testMap);
    const env = harness.env;
    harness.note(`init over map "${testMap.name}"`);
    harness.verifyAll(true);
    let bootFrames = 0;
    for (const span of env.bootAllocations) bootFrames += (span.end - span.start) / PAGE_SIZE;
    // Sparse RAM: a 64 GiB map must not cost a write per frame (a free stack fills lazily).
    const touchLimit = bootFrames + Math.ceil(env.totalFrames / 16) + 256;
    if (env.ram.touchedPages > touchLimit) {
      harness.fail(
        "init-touch",
        `init wrote to ${env.ram.touchedPages} pages of RAM (${bootFrames} of them boot-allocator metadata) for ${env.totalFrames} managed frames; at most ${touchLimit} allowed: init must not touch every frame`,
      );
    }
    const metadataBytes = harness.readStats().metadataBytes;
    if (env.totalFrames > 0) {
      harness.step(() => {
        const run = harness.allocate(1);
        if (run !== undefined) harness.free(run);
      }, true);
    }
    maps.push({
      map: testMap.name,
      totalFrames: env.totalFrames,
      zoneFrames: { ...env.zoneFrames },
      metadataBytes,
      bootFrames,
      touchedPages: env.ram.touchedPages,
      bootCappedBySuite: env.bootCappedBySuite,
    });
  }
  return { pmm: prepared.profile.name, checked: maps.length, maps };
}

/** A few runs so that the table checks meet a PMM with state, not a pristine one. */
function populate(harness: PmmHarness): LiveRun[] {
  const runs: LiveRun[] = [];
  const shapes: [number, FrameConstraints | undefined][] = [
    [1, undefined],
    [1, undefined],
    [4, undefined],
    [8, harness.profile.constraints.has("zone") ? { zone: "DMA32" } : undefined],
    [1, harness.profile.constraints.has("zone") ? { zone: "DMA" } : undefined],
  ];
  for (const [count, constraints] of shapes) {
    if (count > 1 && !harness.profile.contiguous) continue;
    harness.step(() => {
      const run = harness.allocate(count, constraints);
      if (run === undefined)
        harness.fail("out-of-memory", `allocFrames(${count}) on a fresh PMM returned 0`);
      runs.push(run);
    });
  }
  return runs;
}

/**
 * Malformed counts and constraints raise EINVAL naming the value; constraints the PMM does not
 * declare, and runs it cannot hand out, raise EUNSUPPORTED; nothing changes.
 */
export function runPmmBadArguments(
  factory: PmmFactory,
  options: PmmConformanceOptions = {},
): PmmScenarioReport {
  const prepared = prepare(factory, options);
  const harness = freshHarness(factory, prepared, standardTestMap());
  populate(harness);
  const rows = [...malformedAllocRows(prepared.profile), ...unsupportedAllocRows(prepared.profile)];
  for (const row of rows) harness.step(() => expectRejectedAlloc(harness, row));
  harness.step(() => harness.freeAll("forward"), true);
  return { pmm: prepared.profile.name, checked: rows.length };
}

/**
 * Every kind of bad free (double, frame 0, kernel, module, PMM metadata, holes, non-RAM
 * entries, above RAM, misaligned, straddling, too long, reserved, bad count, bad address)
 * raises EDOUBLEFREE, EFAULT or EINVAL naming the address, and changes nothing.
 */
export function runPmmBadFrees(
  factory: PmmFactory,
  options: PmmConformanceOptions = {},
): PmmScenarioReport {
  const prepared = prepare(factory, options);
  const harness = freshHarness(factory, prepared, standardTestMap());
  const runs = populate(harness);
  harness.step(() => harness.free(runs[1]!));
  if (prepared.profile.contiguous) {
    // A freed sub-run inside a live run: its frames must count as free, not as allocated.
    const multi = harness.live.find((r) => r.frames >= 4)!;
    harness.step(() => harness.free(multi, 1, 2));
  }
  const free = harness.freeSpans();
  harness.step(() => harness.reserveFree(free[free.length - 1]!.start, 1));
  let checked = 0;
  const seen = new Set<string>();
  for (const kind of BAD_FREE_KINDS) {
    for (let variant = 0; variant < 6; variant++) {
      const target = badFreeTarget(harness, kind, variant, variant * 0x9e5 + 1);
      if (target === undefined) continue;
      harness.step(() => expectRejectedFree(harness, target), true);
      seen.add(kind);
      checked++;
    }
  }
  const required = BAD_FREE_KINDS.filter(
    (kind) => kind !== "metadata" || harness.env.bootAllocations.length > 0,
  );
  const missed = required.filter((kind) => !seen.has(kind));
  if (missed.length > 0) {
    throw new ConformanceViolation(
      "suite",
      `the bad-free table found no target for ${missed.join(", ")} on the standard map (a suite bug)`,
    );
  }
  harness.step(() => harness.freeAll("reverse"), true);
  return { pmm: prepared.profile.name, checked };
}

/**
 * reserve() of free ranges takes exactly those frames out: they are never handed out, even
 * when memory runs out, and cannot be freed; reserve() of a range holding an allocated frame
 * fails and changes nothing.
 */
export function runPmmReserve(
  factory: PmmFactory,
  options: PmmConformanceOptions = {},
): PmmScenarioReport {
  const prepared = prepare(factory, options);
  const harness = freshHarness(factory, prepared, standardTestMap());
  const runs = populate(harness);
  let checked = 0;
  const free = harness.freeSpans();
  // One frame, a 16-frame range, and the first frames of the last free span (above 4 GiB).
  const picks: [number, number][] = [
    [free[0]!.start, 1],
    [free[Math.floor(free.length / 2)]!.start + 3 * PAGE_SIZE, 16],
    [free[free.length - 1]!.start, 8],
  ];
  for (const [start, frames] of picks) {
    harness.step(() => harness.reserveFree(start, frames), true);
    checked++;
  }
  for (const run of runs) {
    harness.step(() => expectRejectedReserve(harness, run.start, run.frames, 1, 0), true);
    checked++;
  }
  for (let i = 0; i < harness.reserved.length; i++) {
    const target = badFreeTarget(harness, "reserved", i, 0)!;
    harness.step(() => expectRejectedFree(harness, target), true);
    checked++;
  }
  // Exhaust memory one frame at a time: the reserved frames must never come back.
  const expected = harness.expectedFree;
  let obtained = 0;
  for (;;) {
    const run = harness.allocate(1);
    if (run === undefined) break;
    obtained++;
    if (obtained > expected) break;
  }
  harness.verifyAll(true);
  if (obtained !== expected) {
    harness.fail(
      "exhaustion",
      `allocFrames(1) handed out ${obtained} frames before returning 0 with ${harness.reserved.length} range(s) reserved; ${expected} were free`,
    );
  }
  harness.step(() => harness.freeAll("interleaved"), true);
  return { pmm: prepared.profile.name, checked: checked + obtained };
}

/** Small generated maps (16-64 MiB of RAM, some above 4 GiB) for the exhaustion check. */
export function exhaustionTestMaps(seed: number): PmmTestMap[] {
  return [standardTestMap(), ...sampleMessyMaps(seed ^ 0x51ed, 3, "generated-exhaustion", 48, 16)];
}

/** Allocates single frames (in `zone`, when given) until 0; returns what it got. */
function exhaust(
  harness: PmmHarness,
  constraints: FrameConstraints | undefined,
  limit: number,
): LiveRun[] {
  const runs: LiveRun[] = [];
  for (;;) {
    const run = harness.allocate(1, constraints);
    if (run === undefined) break;
    runs.push(run);
    if (runs.length > limit) break;
  }
  return runs;
}

/**
 * Single frames until 0: exactly the free count, stats() at 0 free, check() passes; free every
 * other frame and exhaust again (exactly those come back); free everything (the initial count
 * is back). Per declared zone, the same inside the zone, leaving the other zones untouched.
 * Contiguous PMMs then fill memory with runs of 16 frames and give them all back.
 */
export function runPmmExhaustion(
  factory: PmmFactory,
  options: PmmConformanceOptions = {},
): PmmScenarioReport {
  const prepared = prepare(factory, options);
  let checked = 0;
  for (const testMap of exhaustionTestMaps(prepared.settings.seed)) {
    const harness = freshHarness(factory, prepared, testMap);
    const initial = harness.expectedFree;
    const expectCount = (what: string, got: number, wanted: number): void => {
      if (got !== wanted) {
        harness.fail(
          "exhaustion",
          `${what}: allocFrames handed out ${got} frame(s) before returning 0; ${wanted} were free`,
        );
      }
    };
    const first = exhaust(harness, undefined, initial);
    harness.verifyAll(true);
    expectCount("exhausting a fresh PMM", first.length, initial);
    harness.verifyAllPatterns("with memory exhausted");

    const everyOther = first.filter((_, i) => i % 2 === 0);
    for (const run of everyOther) harness.free(run);
    harness.verifyAll(true);
    const again = exhaust(harness, undefined, everyOther.length);
    harness.verifyAll(true);
    expectCount(
      "exhausting again after freeing every other frame",
      again.length,
      everyOther.length,
    );
    harness.verifyAllPatterns("with memory exhausted again");
    harness.step(() => harness.freeAll("interleaved"), true);
    checked += first.length + again.length;

    if (prepared.profile.constraints.has("zone")) {
      for (const zone of ZONE_PREFERENCE) {
        const inZone = harness.expectedZoneFree(zone);
        const runs = exhaust(harness, { zone }, inZone);
        harness.verifyAll(true);
        expectCount(`exhausting zone ${zone}`, runs.length, inZone);
        harness.step(() => harness.freeAll("reverse"), true);
        checked += runs.length;
      }
    }
    if (prepared.profile.contiguous && prepared.profile.maxContiguousFrames >= 16) {
      const runs = exhaustRuns(harness, 16, initial);
      harness.verifyAll(true);
      harness.step(() => harness.freeAll("piecewise"), true);
      checked += runs;
    }
    if (harness.expectedFree !== initial) {
      throw new ConformanceViolation(
        "suite",
        `exhaustion left ${harness.expectedFree} of ${initial} frames free (a suite bug)`,
      );
    }
  }
  return { pmm: prepared.profile.name, checked };
}

/** Runs of `count` frames until 0 (the 0 is checked like any other). */
function exhaustRuns(harness: PmmHarness, count: number, limit: number): number {
  let runs = 0;
  while (runs * count <= limit && harness.allocate(count) !== undefined) runs++;
  return runs;
}

/**
 * Each declared page size is handed out naturally aligned: with `align` declared, a run of
 * `size / 4096` frames with `{ align: size }`; without, a plain run of that many frames must
 * come back aligned to `size`. Tried on the first map with a free aligned block of that size.
 */
export function runPmmPageSizes(
  factory: PmmFactory,
  options: PmmConformanceOptions = {},
): PmmScenarioReport {
  const prepared = prepare(factory, options);
  let checked = 0;
  const maps = [standardTestMap(), ...presetTestMaps()];
  for (const size of prepared.profile.pageSizes) {
    if (size === PAGE_SIZE) continue;
    const frames = size / PAGE_SIZE;
    let harness: PmmHarness | undefined;
    for (const testMap of maps) {
      const candidate = freshHarness(factory, prepared, testMap);
      const free = candidate.freeSpans();
      if (free.some((span) => roundUpTo(span.start, size) + size <= span.end)) {
        harness = candidate;
        break;
      }
    }
    if (harness === undefined) continue;
    const declared = prepared.profile.constraints.has("align");
    const constraints = declared ? { align: size } : undefined;
    const h: PmmHarness = harness;
    h.step(() => {
      const run = h.allocate(frames, constraints);
      if (run === undefined) {
        h.fail(
          "page-size",
          `allocFrames(${frames}${declared ? `, { align: ${hex(size)} }` : ""}) returned 0 on a fresh PMM with a free ${hex(size)}-aligned block`,
        );
      }
      if (run.start % size !== 0) {
        h.fail(
          "page-size",
          `capabilities.pageSizes lists ${hex(size)}, but allocFrames(${frames}) returned ${hex(run.start)}, not aligned to it`,
        );
      }
      h.free(run);
    }, true);
    checked++;
  }
  return { pmm: prepared.profile.name, checked };
}
