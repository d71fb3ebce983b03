import { GiB, MiB, PAGE_SIZE, hex } from "@allockit/core";
import type { AllocatorErrorCode, FrameConstraints } from "@allockit/core";
import { describeAllocCall, formatArgument } from "./format.js";
import { PmmHarness } from "./harness.js";
import { BAD_FREE_CODES, expectRejected } from "./rejections.js";
import type { PmmProfile } from "./profile.js";
import { CONSTRAINT_KEYS } from "./profile.js";
import { pageDown } from "./spans.js";

/** An allocFrames call the PMM must reject, and how. */
export interface BadAllocRow {
  readonly call: string;
  readonly count: number;
  readonly constraints: unknown;
  readonly codes: readonly AllocatorErrorCode[];
  /** Values of which the error message must name one. */
  readonly mentions: readonly (number | string)[];
  /** An impossible request that may also be answered with 0. */
  readonly acceptZero?: boolean;
  /** "bad-argument" for malformed input, "unsupported" for what the PMM does not declare. */
  readonly check: "bad-argument" | "unsupported";
}

function row(
  check: BadAllocRow["check"],
  count: number,
  constraints: unknown,
  codes: readonly AllocatorErrorCode[],
  mentions: readonly (number | string)[],
  acceptZero = false,
): BadAllocRow {
  const call =
    constraints === undefined
      ? `allocFrames(${formatArgument(count)})`
      : typeof constraints === "object" && constraints !== null
        ? describeAllocCall(count, constraints as FrameConstraints)
        : `allocFrames(${formatArgument(count)}, ${formatArgument(constraints)})`;
  return {
    call,
    count,
    constraints,
    codes,
    mentions,
    check,
    ...(acceptZero ? { acceptZero } : {}),
  };
}

const EINVAL: readonly AllocatorErrorCode[] = ["EINVAL"];
const EUNSUPPORTED: readonly AllocatorErrorCode[] = ["EUNSUPPORTED"];

/** Malformed counts and constraints (EINVAL), for the constraint fields the PMM declares. */
export function malformedAllocRows(profile: PmmProfile): BadAllocRow[] {
  const rows: BadAllocRow[] = [];
  for (const count of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
    rows.push(row("bad-argument", count, undefined, EINVAL, [count]));
  }
  rows.push(row("bad-argument", 1, 42, EINVAL, [42]));
  rows.push(row("bad-argument", 1, "DMA", EINVAL, ["DMA"]));
  // An unknown field is malformed or unsupported, either way never silently ignored.
  rows.push(row("bad-argument", 1, { colour: 1 }, ["EINVAL", "EUNSUPPORTED"], ["colour"]));
  const declared = profile.constraints;
  if (declared.has("zone")) {
    for (const zone of ["HIGHMEM", "dma", 1])
      rows.push(row("bad-argument", 1, { zone }, EINVAL, [zone]));
  }
  if (declared.has("below")) {
    for (const below of [-1, 1.5, NaN, -4096])
      rows.push(row("bad-argument", 1, { below }, EINVAL, [below]));
  }
  if (declared.has("align")) {
    for (const align of [3, 6, 12288, -4096, 1.5, NaN]) {
      rows.push(row("bad-argument", 1, { align }, EINVAL, [align]));
    }
  }
  if (declared.has("boundary")) {
    for (const boundary of [3, 12288, -8192, 1.5]) {
      rows.push(row("bad-argument", 1, { boundary }, EINVAL, [boundary]));
    }
    if (profile.contiguous) {
      // No run of 2 frames fits under a 1-frame boundary: malformed, or simply nothing fits.
      rows.push(row("bad-argument", 2, { boundary: PAGE_SIZE }, EINVAL, [PAGE_SIZE], true));
    }
  }
  return rows;
}

/** Well-formed values for each constraint, used to ask for ones the PMM does not declare. */
const VALID_CONSTRAINTS: Readonly<Record<keyof FrameConstraints, unknown>> = {
  zone: "DMA32",
  below: 4 * GiB,
  align: 2 * MiB,
  boundary: 64 * 1024,
};

/** Undeclared constraints and runs the PMM cannot hand out (EUNSUPPORTED). */
export function unsupportedAllocRows(profile: PmmProfile): BadAllocRow[] {
  const rows: BadAllocRow[] = [];
  for (const key of CONSTRAINT_KEYS) {
    if (!profile.constraints.has(key)) {
      rows.push(row("unsupported", 1, { [key]: VALID_CONSTRAINTS[key] }, EUNSUPPORTED, [key]));
    }
  }
  if (!profile.contiguous) {
    for (const count of [2, 16])
      rows.push(row("unsupported", count, undefined, EUNSUPPORTED, [count]));
  } else if (Number.isSafeInteger(profile.maxContiguousFrames + 1)) {
    const count = profile.maxContiguousFrames + 1;
    rows.push(row("unsupported", count, undefined, EUNSUPPORTED, [count]));
  }
  return rows;
}

/** Runs a bad allocFrames row on the harness's PMM. */
export function expectRejectedAlloc(harness: PmmHarness, bad: BadAllocRow): void {
  expectRejected(harness, {
    check: bad.check,
    call: bad.call,
    what: "",
    codes: bad.codes,
    mentions: bad.mentions,
    invoke: () => harness.pmm.allocFrames(bad.count, bad.constraints as FrameConstraints),
    ...(bad.acceptZero === true ? { acceptZero: true } : {}),
  });
}

/** What a rejected freeFrames aims at. */
export const BAD_FREE_KINDS = [
  "double",
  "frame-0",
  "kernel",
  "module",
  "metadata",
  "hole",
  "non-ram",
  "above-ram",
  "misaligned",
  "straddle",
  "too-long",
  "reserved",
  "bad-count",
  "bad-address",
] as const;
export type BadFreeKind = (typeof BAD_FREE_KINDS)[number];

export interface BadFreeTarget {
  readonly addr: number;
  readonly count: number;
  readonly what: string;
  readonly mentions: readonly number[];
}

const BAD_COUNTS = [0, -1, 1.5, NaN, Infinity];
const BAD_ADDRESSES = [-PAGE_SIZE, 1.5, NaN, 2 ** 53];

/**
 * A freeFrames call that must fail, chosen by kind; `pick` and `offset` choose among the
 * candidates. Undefined when the kind has no target now (no live run, no hole in this map...).
 */
export function badFreeTarget(
  harness: PmmHarness,
  kind: BadFreeKind,
  pick: number,
  offset: number,
): BadFreeTarget | undefined {
  const env = harness.env;
  const live = harness.live;
  const run = live.length === 0 ? undefined : live[pick % live.length]!;
  const single = (addr: number, what: string): BadFreeTarget => ({
    addr,
    count: 1,
    what,
    mentions: [addr],
  });
  switch (kind) {
    case "double": {
      if (harness.freed.length === 0) return undefined;
      const freed = harness.freed[pick % harness.freed.length]!;
      let notLive = -1;
      for (let i = 0; i < freed.frames && notLive < 0; i++) {
        const frame = freed.start + i * PAGE_SIZE;
        if (!harness.isLiveFrame(frame)) notLive = frame;
      }
      if (notLive < 0) return undefined;
      return {
        addr: freed.start,
        count: freed.frames,
        what: `frames of r${freed.owner} freed at step #${freed.step}`,
        mentions: [freed.start, notLive],
      };
    }
    case "frame-0":
      return single(0, "frame 0");
    case "kernel":
    case "module": {
      const range = kind === "kernel" ? env.layout.kernel : env.layout.module;
      if (range === undefined) return undefined;
      return single(
        PmmHarness.pick(range.base, range.base + range.length, offset),
        `a frame of the ${range.name}`,
      );
    }
    case "metadata": {
      const spans = env.bootAllocations;
      if (spans.length === 0) return undefined;
      const span = spans[pick % spans.length]!;
      return single(
        PmmHarness.pick(span.start, span.end, offset),
        "a frame of boot-allocator memory (PMM metadata)",
      );
    }
    case "hole":
    case "non-ram": {
      const candidates: { start: number; end: number }[] = [];
      let cursor = 0;
      for (const e of env.normalized) {
        if (kind === "hole" && e.base > cursor) candidates.push({ start: cursor, end: e.base });
        if (kind === "non-ram" && e.type !== "usable")
          candidates.push({ start: e.base, end: e.base + e.length });
        cursor = Math.max(cursor, e.base + e.length);
      }
      const usable = candidates.filter(
        (c) => !env.isManaged(pageDown(c.start + (offset % (c.end - c.start)))),
      );
      if (usable.length === 0) return undefined;
      const chosen = usable[pick % usable.length]!;
      const addr = pageDown(chosen.start + (offset % (chosen.end - chosen.start)));
      if (env.isManaged(addr)) return undefined;
      return single(
        addr,
        kind === "hole"
          ? "a frame in a hole of the memory map"
          : `a frame of a non-usable map entry (${env.describeFrame(addr)})`,
      );
    }
    case "above-ram": {
      const addr =
        offset % 2 === 0
          ? pageDown(env.mapEnd + PAGE_SIZE - 1) + (offset % 64) * PAGE_SIZE
          : 2 ** 40 + (offset % 4096) * PAGE_SIZE;
      if (env.isManaged(addr)) return undefined;
      return single(addr, "a frame above all RAM");
    }
    case "misaligned": {
      if (run === undefined) return undefined;
      const addr = run.start + 1 + (offset % (PAGE_SIZE - 1));
      return {
        addr,
        count: 1,
        what: `a misaligned address inside ${harness.describeRun(run)}`,
        mentions: [addr],
      };
    }
    case "straddle": {
      if (run === undefined) return undefined;
      const after = run.start + run.frames * PAGE_SIZE;
      if (!harness.isLiveFrame(after)) {
        const addr = after - PAGE_SIZE;
        return {
          addr,
          count: 2,
          what: `the last frame of ${harness.describeRun(run)} and the unallocated frame after it`,
          mentions: [addr, after],
        };
      }
      const before = run.start - PAGE_SIZE;
      if (before >= 0 && !harness.isLiveFrame(before)) {
        return {
          addr: before,
          count: 2,
          what: `the unallocated frame before ${harness.describeRun(run)} and its first frame`,
          mentions: [before],
        };
      }
      return undefined;
    }
    case "too-long": {
      if (run === undefined) return undefined;
      const after = run.start + run.frames * PAGE_SIZE;
      if (harness.isLiveFrame(after)) return undefined;
      return {
        addr: run.start,
        count: run.frames + 1,
        what: `${harness.describeRun(run)} plus one frame`,
        mentions: [run.start, after, run.frames + 1],
      };
    }
    case "reserved": {
      if (harness.reserved.length === 0) return undefined;
      const span = harness.reserved[pick % harness.reserved.length]!;
      return single(
        PmmHarness.pick(span.start, span.end, offset),
        `a frame taken out by reserve() [${hex(span.start)}, ${hex(span.end)})`,
      );
    }
    case "bad-count": {
      const addr = run?.start ?? env.managed[0]?.start;
      if (addr === undefined) return undefined;
      const count = BAD_COUNTS[offset % BAD_COUNTS.length]!;
      return { addr, count, what: `count ${String(count)}`, mentions: [count] };
    }
    case "bad-address": {
      const addr = BAD_ADDRESSES[offset % BAD_ADDRESSES.length]!;
      return single(addr, `address ${String(addr)}`);
    }
  }
}

/** Runs a bad freeFrames target on the harness's PMM. */
export function expectRejectedFree(harness: PmmHarness, target: BadFreeTarget): void {
  const { addr, count } = target;
  const spanFrames = Number.isSafeInteger(count) && count > 0 ? count : 1;
  expectRejected(harness, {
    check: "bad-free",
    call: `freeFrames(${formatArgument(addr)}, ${String(count)})`,
    what: target.what,
    // A PMM of single frames may refuse any multi-frame free as unsupported.
    codes:
      !harness.profile.contiguous && count > 1
        ? [...BAD_FREE_CODES, "EUNSUPPORTED"]
        : BAD_FREE_CODES,
    mentions: target.mentions,
    invoke: () => harness.pmm.freeFrames(addr, count),
    ...(Number.isSafeInteger(addr) && addr >= 0
      ? { near: { start: pageDown(addr), end: pageDown(addr) + spanFrames * PAGE_SIZE } }
      : {}),
  });
}
