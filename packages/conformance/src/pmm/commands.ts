import { PAGE_SIZE, hex } from "@allockit/core";
import type { FrameConstraints, Zone } from "@allockit/core";
import fc from "fast-check";
import {
  BAD_FREE_KINDS,
  badFreeTarget,
  expectRejectedAlloc,
  expectRejectedFree,
  malformedAllocRows,
  unsupportedAllocRows,
} from "./bad-calls.js";
import type { BadAllocRow, BadFreeKind } from "./bad-calls.js";
import { describeAllocCall } from "./format.js";
import { PMM_FREE_ORDERS } from "./harness.js";
import { BAD_RESERVE_CODES, expectRejected } from "./rejections.js";
import type { PmmFreeOrder, PmmHarness } from "./harness.js";
import type { PmmProfile } from "./profile.js";
import { pageDown } from "./spans.js";

/**
 * The random operations of the model run. Model and real system are the same harness object.
 * Commands that act on a run name it `live[k]`: the k-th live run, k taken modulo the number
 * of live runs, so a shrunk sequence stays meaningful when earlier commands are dropped.
 */
export type PmmCommand = fc.Command<PmmHarness, PmmHarness>;

/** Where `below` lands: a zone limit, or a fraction (in 1/1000) of the RAM's end, plus bytes. */
export interface BelowSpec {
  readonly kind: "DMA" | "DMA32" | "fraction";
  readonly permille: number;
  readonly jitter: number;
}

export interface ConstraintSpec {
  readonly zone?: Zone;
  readonly below?: BelowSpec;
  readonly align?: number;
  readonly boundary?: number;
}

function resolveBelow(spec: BelowSpec, harness: PmmHarness): number {
  const base =
    spec.kind === "DMA"
      ? harness.limits.DMA
      : spec.kind === "DMA32"
        ? harness.limits.DMA32
        : pageDown(Math.floor((harness.env.ramEnd * spec.permille) / 1000));
  return Math.max(PAGE_SIZE, base) + spec.jitter;
}

class AllocCommand implements PmmCommand {
  private resolved: FrameConstraints | undefined;
  constructor(
    readonly count: number,
    readonly spec: ConstraintSpec | undefined,
  ) {}
  check(): boolean {
    return true;
  }
  run(_model: PmmHarness, harness: PmmHarness): void {
    const spec = this.spec;
    let constraints: FrameConstraints | undefined;
    if (spec !== undefined) {
      const c: { -readonly [K in keyof FrameConstraints]: FrameConstraints[K] } = {};
      if (spec.zone !== undefined) c.zone = spec.zone;
      if (spec.below !== undefined) c.below = resolveBelow(spec.below, harness);
      if (spec.align !== undefined) c.align = spec.align;
      if (spec.boundary !== undefined) c.boundary = spec.boundary;
      constraints = c;
    }
    this.resolved = constraints;
    harness.step(() => {
      harness.allocate(this.count, constraints);
    });
  }
  toString(): string {
    if (this.resolved !== undefined || this.spec === undefined) {
      return describeAllocCall(this.count, this.resolved);
    }
    const below = this.spec.below;
    const shown: Record<string, unknown> = { ...this.spec };
    if (below !== undefined) {
      shown.below =
        below.kind === "fraction"
          ? `${below.permille}/1000 of RAM + ${below.jitter}`
          : `${below.kind} + ${below.jitter}`;
    }
    return `allocFrames(${this.count}, ${JSON.stringify(shown)})`;
  }
}

class FreeCommand implements PmmCommand {
  constructor(readonly pick: number) {}
  check(model: Readonly<PmmHarness>): boolean {
    return model.live.length > 0;
  }
  run(_model: PmmHarness, harness: PmmHarness): void {
    harness.step(() => harness.free(harness.live[this.pick % harness.live.length]!));
  }
  toString(): string {
    return `freeFrames(live[${this.pick}])`;
  }
}

/** Frees part of a multi-frame run: contiguous PMMs must accept any sub-run, single frames too. */
class FreePartCommand implements PmmCommand {
  constructor(
    readonly pick: number,
    readonly offset: number,
    readonly frames: number,
  ) {}
  check(model: Readonly<PmmHarness>): boolean {
    return model.live.some((r) => r.frames > 1);
  }
  run(_model: PmmHarness, harness: PmmHarness): void {
    const multi = harness.live.filter((r) => r.frames > 1);
    const run = multi[this.pick % multi.length]!;
    const offset = this.offset % run.frames;
    const frames = 1 + (this.frames % (run.frames - offset));
    harness.step(() => harness.free(run, offset, frames));
  }
  toString(): string {
    return `freeFrames(part of multi-frame live[${this.pick}], offset ${this.offset}, ${this.frames} frames)`;
  }
}

class ReserveFreeCommand implements PmmCommand {
  constructor(
    readonly pick: number,
    readonly offset: number,
    readonly frames: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(_model: PmmHarness, harness: PmmHarness): void {
    harness.step(() => {
      const free = harness.freeSpans();
      if (free.length === 0) {
        harness.note(`${this.toString()} skipped: nothing free`);
        return;
      }
      const span = free[this.pick % free.length]!;
      const spanFrames = (span.end - span.start) / PAGE_SIZE;
      const first = this.offset % spanFrames;
      const frames = Math.min(this.frames, spanFrames - first);
      harness.reserveFree(span.start + first * PAGE_SIZE, frames);
    });
  }
  toString(): string {
    return `reserve(free range ${this.pick}, offset ${this.offset}, ${this.frames} frames)`;
  }
}

/** reserve() of a range holding an allocated frame must fail and change nothing. */
class ReserveLiveCommand implements PmmCommand {
  constructor(
    readonly pick: number,
    readonly before: number,
    readonly after: number,
  ) {}
  check(model: Readonly<PmmHarness>): boolean {
    return model.live.length > 0;
  }
  run(_model: PmmHarness, harness: PmmHarness): void {
    const run = harness.live[this.pick % harness.live.length]!;
    harness.step(
      () => expectRejectedReserve(harness, run.start, run.frames, this.before, this.after),
      true,
    );
  }
  toString(): string {
    return `reserve(around live[${this.pick}], ${this.before} frames before, ${this.after} after) [must fail]`;
  }
}

/** Reserves `[start - before, start + frames + after)` frames around an allocated run. */
export function expectRejectedReserve(
  harness: PmmHarness,
  start: number,
  frames: number,
  before: number,
  after: number,
): void {
  const base = Math.max(PAGE_SIZE, start - before * PAGE_SIZE);
  const end = start + Math.max(1, Math.min(frames, 1 + after)) * PAGE_SIZE;
  const call = `reserve({ base: ${hex(base)}, length: ${hex(end - base)} })`;
  expectRejected(harness, {
    check: "bad-reserve",
    call,
    what: `it holds allocated frame ${hex(start)}`,
    codes: BAD_RESERVE_CODES,
    mentions: [],
    invoke: () => harness.pmm.reserve({ base, length: end - base }),
    near: { start: base, end },
  });
}

class BadFreeCommand implements PmmCommand {
  constructor(
    readonly kind: BadFreeKind,
    readonly pick: number,
    readonly offset: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(_model: PmmHarness, harness: PmmHarness): void {
    harness.step(() => {
      const target = badFreeTarget(harness, this.kind, this.pick, this.offset);
      if (target === undefined) harness.note(`${this.toString()} skipped: no such target now`);
      else expectRejectedFree(harness, target);
    }, true);
  }
  toString(): string {
    return `freeFrames(${this.kind}, pick ${this.pick}, offset ${this.offset}) [must fail]`;
  }
}

class BadAllocCommand implements PmmCommand {
  constructor(readonly row: BadAllocRow) {}
  check(): boolean {
    return true;
  }
  run(_model: PmmHarness, harness: PmmHarness): void {
    harness.step(() => expectRejectedAlloc(harness, this.row), true);
  }
  toString(): string {
    return `${this.row.call} [must throw ${this.row.codes.join("/")}]`;
  }
}

class RewriteCommand implements PmmCommand {
  constructor(readonly pick: number) {}
  check(model: Readonly<PmmHarness>): boolean {
    return model.live.length > 0;
  }
  run(_model: PmmHarness, harness: PmmHarness): void {
    harness.step(() => harness.rewrite(harness.live[this.pick % harness.live.length]!));
  }
  toString(): string {
    return `write(live[${this.pick}])`;
  }
}

class CheckCommand implements PmmCommand {
  check(): boolean {
    return true;
  }
  run(_model: PmmHarness, harness: PmmHarness): void {
    harness.step(() => {
      harness.note("check()");
      harness.verifyAllPatterns("at a check() step");
    }, true);
  }
  toString(): string {
    return "check()";
  }
}

class FreeAllCommand implements PmmCommand {
  constructor(readonly order: PmmFreeOrder) {}
  check(model: Readonly<PmmHarness>): boolean {
    return model.live.length > 0;
  }
  run(_model: PmmHarness, harness: PmmHarness): void {
    harness.step(() => harness.freeAll(this.order), true);
  }
  toString(): string {
    return `freeAll(${this.order})`;
  }
}

/** Run lengths: mostly 1, then small, sometimes large (a 2 MiB page of 512 frames). */
export function countArbitrary(profile: PmmProfile): fc.Arbitrary<number> {
  if (!profile.contiguous) return fc.constant(1);
  const max = profile.maxContiguousFrames;
  const choices: fc.WeightedArbitrary<number>[] = [{ weight: 6, arbitrary: fc.constant(1) }];
  choices.push({ weight: 4, arbitrary: fc.integer({ min: 2, max: Math.min(8, max) }) });
  if (max > 8)
    choices.push({ weight: 2, arbitrary: fc.integer({ min: 9, max: Math.min(64, max) }) });
  const big = [256, 512].filter((n) => n <= max);
  if (big.length > 0) choices.push({ weight: 1, arbitrary: fc.constantFrom(...big) });
  return fc.oneof(...choices);
}

const POWERS_UP_TO_4M = Array.from({ length: 23 }, (_, i) => 2 ** i);

/** Constraint sets drawn from the declared constraints only; boundary fits the run. */
export function constraintArbitrary(
  profile: PmmProfile,
  count: number,
): fc.Arbitrary<ConstraintSpec | undefined> {
  const declared = profile.constraints;
  if (declared.size === 0) return fc.constant(undefined);
  const runBytes = count * PAGE_SIZE;
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  if (declared.has("zone")) fields.zone = fc.constantFrom<Zone>("DMA", "DMA32", "NORMAL");
  if (declared.has("below")) {
    fields.below = fc.record({
      kind: fc.constantFrom<BelowSpec["kind"]>("fraction", "DMA", "DMA32"),
      permille: fc.integer({ min: 1, max: 1000 }),
      jitter: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: PAGE_SIZE - 1 })),
    });
  }
  if (declared.has("align")) {
    fields.align = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...POWERS_UP_TO_4M) },
      { weight: 1, arbitrary: fc.constantFrom(2 ** 24, 2 ** 30) },
    );
  }
  if (declared.has("boundary")) {
    const boundaries = [2 ** 16, 2 ** 17, 2 ** 20, 2 ** 21, 2 ** 22, 2 ** 24, 2 ** 32].filter(
      (b) => b >= runBytes,
    );
    let smallest = PAGE_SIZE;
    while (smallest < runBytes) smallest *= 2;
    fields.boundary = fc.constantFrom(smallest, ...boundaries);
  }
  return fc.option(fc.record(fields, { requiredKeys: [] }) as fc.Arbitrary<ConstraintSpec>, {
    freq: 3,
    nil: undefined,
  });
}

/** The weighted mix of commands a model run draws from. */
export function pmmCommandArbitraries(profile: PmmProfile): fc.Arbitrary<PmmCommand>[] {
  const pick = fc.nat({ max: 63 });
  const offset = fc.nat({ max: 0xffff });
  const alloc = countArbitrary(profile).chain((count) =>
    constraintArbitrary(profile, count).map((spec): PmmCommand => new AllocCommand(count, spec)),
  );
  const badAllocs = [...malformedAllocRows(profile), ...unsupportedAllocRows(profile)];
  const weighted: fc.WeightedArbitrary<PmmCommand>[] = [
    { weight: 14, arbitrary: alloc },
    { weight: 7, arbitrary: pick.map((p): PmmCommand => new FreeCommand(p)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(pick, fc.nat({ max: 16 }), fc.integer({ min: 1, max: 16 }))
        .map(([p, o, f]): PmmCommand => new ReserveFreeCommand(p, o, f)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(pick, fc.nat({ max: 3 }), fc.nat({ max: 3 }))
        .map(([p, b, a]): PmmCommand => new ReserveLiveCommand(p, b, a)),
    },
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.constantFrom<BadFreeKind>(...BAD_FREE_KINDS), pick, offset)
        .map(([k, p, o]): PmmCommand => new BadFreeCommand(k, p, o)),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...badAllocs).map((r): PmmCommand => new BadAllocCommand(r)),
    },
    { weight: 1, arbitrary: pick.map((p): PmmCommand => new RewriteCommand(p)) },
    { weight: 1, arbitrary: fc.constant<PmmCommand>(new CheckCommand()) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom<PmmFreeOrder>(...PMM_FREE_ORDERS)
        .map((order): PmmCommand => new FreeAllCommand(order)),
    },
  ];
  if (profile.contiguous) {
    weighted.push({
      weight: 4,
      arbitrary: fc
        .tuple(pick, fc.nat({ max: 511 }), fc.nat({ max: 511 }))
        .map(([p, o, f]): PmmCommand => new FreePartCommand(p, o, f)),
    });
  }
  return [fc.oneof(...weighted)];
}
