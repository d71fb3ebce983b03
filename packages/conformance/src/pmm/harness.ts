import { PAGE_SIZE, PHYS_ADDR_LIMIT, hex } from "@allockit/core";
import type {
  FrameConstraints,
  PhysicalMemoryManager,
  PmmStats,
  Zone,
  ZoneLimits,
} from "@allockit/core";
import { ConformanceViolation, describeThrown } from "../violation.js";
import type { PmmEnvironment } from "./environment.js";
import { describeAllocCall } from "./format.js";
import { checkFramePattern, writeFramePattern } from "./frame-pattern.js";
import type { PmmProfile } from "./profile.js";
import { acceptZero, preferredZone, resolveRequest, validateRun } from "./run-checks.js";
import { ZONE_ORDER, framesByZone, pageDown, subtractSpans, zoneOfAddress } from "./spans.js";
import type { Span } from "./spans.js";

/** A run of frames the suite holds. Parts left by a partial free keep owner and generation. */
export interface LiveRun {
  /** Suite-side name of the allocation ("r3"), shared by the parts a partial free leaves. */
  readonly owner: number;
  readonly start: number;
  readonly frames: number;
  /** Bumped by every rewrite, so the frames' words change. */
  generation: number;
  /** The call that produced the run, for messages. */
  readonly origin: string;
  /** Position in `live`, kept for O(1) removal. */
  index: number;
}

/** A range the suite freed (parts of it may since have been handed out again). */
export interface FreedRange {
  readonly start: number;
  readonly frames: number;
  readonly owner: number;
  readonly step: number;
}

/** Counts across the runs of a check, for its report. */
export interface PmmRunCounters {
  steps: number;
  allocations: number;
  outOfMemory: number;
  frees: number;
  partialFrees: number;
  reserves: number;
  rejectedCalls: number;
}

export function newPmmCounters(): PmmRunCounters {
  return {
    steps: 0,
    allocations: 0,
    outOfMemory: 0,
    frees: 0,
    partialFrees: 0,
    reserves: 0,
    rejectedCalls: 0,
  };
}

const TRACE_LINES = 40;
const FREED_REMEMBERED = 16;
const FREE_ORDERS = ["forward", "reverse", "interleaved", "piecewise"] as const;
export type PmmFreeOrder = (typeof FREE_ORDERS)[number];
export const PMM_FREE_ORDERS: readonly PmmFreeOrder[] = FREE_ORDERS;

/**
 * Drives one PMM over one environment and keeps the suite's model of it: the runs it handed
 * out, the ranges taken by reserve(), recently freed ranges, and from those the free counts
 * stats() must show. Every operation checks its own result; {@link verifyAll} checks the rest.
 * A broken rule throws a {@link ConformanceViolation} ending with the last steps taken.
 */
export class PmmHarness {
  readonly pmm: PhysicalMemoryManager;
  /** Live runs (order changes on removal; commands pick them modulo the count). */
  readonly live: LiveRun[] = [];
  /** Ranges taken out by reserve() after init. */
  readonly reserved: Span[] = [];
  readonly freed: FreedRange[] = [];
  private readonly liveFrames = new Set<number>();
  private liveCount = 0;
  private readonly liveZone: Record<Zone, number> = { DMA: 0, DMA32: 0, NORMAL: 0 };
  private reservedCount = 0;
  private readonly reservedZone: Record<Zone, number> = { DMA: 0, DMA32: 0, NORMAL: 0 };
  private nextOwner = 0;
  private readonly trace: string[] = [];
  private stepNumber = 0;

  constructor(
    readonly env: PmmEnvironment,
    readonly profile: PmmProfile,
    readonly limits: ZoneLimits,
    readonly counters: PmmRunCounters = newPmmCounters(),
    /** Run check() after every step; otherwise only where a step asks for it. */
    readonly checkEveryStep = true,
  ) {
    this.pmm = env.pmm;
  }

  get stepCount(): number {
    return this.stepNumber;
  }

  /** Frames free by the model: managed minus allocated minus reserved. */
  get expectedFree(): number {
    return this.env.totalFrames - this.liveCount - this.reservedCount;
  }

  expectedZoneFree(zone: Zone): number {
    return this.env.zoneFrames[zone] - this.liveZone[zone] - this.reservedZone[zone];
  }

  isLiveFrame(frame: number): boolean {
    return this.liveFrames.has(frame);
  }

  // ---- reporting ----

  fail(check: string, message: string, cause?: unknown): never {
    const where = `PMM "${this.profile.name}" on map "${this.env.testMap.name}"`;
    const steps =
      this.trace.length === 0
        ? `\n  in ${where}`
        : `\n  last steps of ${where}, oldest first:\n    ${this.trace.join("\n    ")}`;
    throw new ConformanceViolation(
      check,
      `${message}${steps}`,
      cause === undefined ? undefined : { cause },
    );
  }

  note(line: string): void {
    this.trace.push(`#${this.stepNumber} ${line}`);
    if (this.trace.length > TRACE_LINES) this.trace.shift();
  }

  /** One step of a sequence, then every invariant (check() too when `forceCheck`). */
  step(action: () => void, forceCheck = false): void {
    this.stepNumber++;
    this.counters.steps++;
    action();
    this.verifyAll(forceCheck);
  }

  describeRun(run: LiveRun): string {
    return `r${run.owner} [${hex(run.start)}, ${hex(run.start + run.frames * PAGE_SIZE)}) (${run.frames} frame${run.frames === 1 ? "" : "s"})`;
  }

  /** Runs a PMM call, turning an unexpected throw into a violation. */
  call<T>(what: string, action: () => T): T {
    try {
      return action();
    } catch (error) {
      if (error instanceof ConformanceViolation) throw error;
      return this.fail("unexpected-error", `${what} threw ${describeThrown(error)}`, error);
    }
  }

  readStats(): PmmStats {
    return this.call("stats()", () => this.pmm.stats());
  }

  // ---- requests ----

  /** Free frames by the model, as sorted disjoint spans. */
  freeSpans(): Span[] {
    const taken: Span[] = this.live.map((r) => ({
      start: r.start,
      end: r.start + r.frames * PAGE_SIZE,
    }));
    taken.push(...this.reserved);
    return subtractSpans(this.env.managed, taken);
  }

  // ---- operations ----

  /**
   * allocFrames(count, constraints) and adopt the run; undefined when it returned 0 (checked
   * to be a true out-of-memory where the suite can tell).
   */
  allocate(count: number, constraints?: FrameConstraints): LiveRun | undefined {
    const what = describeAllocCall(count, constraints);
    const req = resolveRequest(this.limits, count, constraints);
    // Decided before the call: the free frames as they were when the PMM was asked.
    const preferred = preferredZone(this, req);
    const addr = this.call(what, () => this.pmm.allocFrames(count, constraints));
    if (addr === 0) {
      acceptZero(this, what, req);
      this.counters.outOfMemory++;
      this.note(`${what} -> 0 (out of memory)`);
      return undefined;
    }
    validateRun(this, what, addr, req);
    const zone = zoneOfAddress(this.limits, addr);
    if (preferred !== undefined && zone !== preferred) {
      this.fail(
        "zone-preference",
        `${what} returned ${hex(addr)} in zone ${zone} while zone ${preferred} has a free frame that fits; without a zone a PMM takes NORMAL first, then DMA32, then DMA`,
      );
    }
    const run = this.track(addr, count, undefined, 0, what);
    for (let i = 0; i < count; i++)
      writeFramePattern(this.env.ram, addr + i * PAGE_SIZE, run.owner, 0);
    this.counters.allocations++;
    this.note(`${what} -> ${this.describeRun(run)}`);
    return run;
  }

  private track(
    start: number,
    frames: number,
    owner: number | undefined,
    generation: number,
    origin: string,
  ): LiveRun {
    const run: LiveRun = {
      owner: owner ?? this.nextOwner,
      start,
      frames,
      generation,
      origin,
      index: this.live.length,
    };
    if (owner === undefined) this.nextOwner++;
    this.live.push(run);
    this.account(start, frames, +1);
    return run;
  }

  private untrack(run: LiveRun): void {
    const last = this.live.pop()!;
    if (last !== run) {
      this.live[run.index] = last;
      last.index = run.index;
    }
    this.account(run.start, run.frames, -1);
  }

  private account(start: number, frames: number, sign: 1 | -1): void {
    for (let i = 0; i < frames; i++) {
      if (sign > 0) this.liveFrames.add(start + i * PAGE_SIZE);
      else this.liveFrames.delete(start + i * PAGE_SIZE);
    }
    this.liveCount += sign * frames;
    const byZone = framesByZone([{ start, end: start + frames * PAGE_SIZE }], this.limits);
    for (const zone of ZONE_ORDER) this.liveZone[zone] += sign * byZone[zone];
  }

  /** Frees `frames` frames of `run` from frame `offset` (the whole run by default). */
  free(run: LiveRun, offset = 0, frames = run.frames - offset): void {
    const start = run.start + offset * PAGE_SIZE;
    const what = `freeFrames(${hex(start)}, ${frames})`;
    this.verifyRunPattern(run, offset, frames, `before ${what}`);
    const partial = frames < run.frames;
    this.call(
      partial
        ? `${what} (part of ${this.describeRun(run)}; a contiguous PMM frees any sub-run)`
        : what,
      () => this.pmm.freeFrames(start, frames),
    );
    this.untrack(run);
    if (offset > 0) this.track(run.start, offset, run.owner, run.generation, run.origin);
    const rest = run.frames - offset - frames;
    if (rest > 0) {
      this.track(start + frames * PAGE_SIZE, rest, run.owner, run.generation, run.origin);
    }
    this.freed.push({ start, frames, owner: run.owner, step: this.stepNumber });
    if (this.freed.length > FREED_REMEMBERED) this.freed.shift();
    this.counters.frees++;
    if (partial) this.counters.partialFrees++;
    this.note(`${what} freed ${frames === run.frames ? "" : `part of `}${this.describeRun(run)}`);
  }

  /** reserve() of a range the model knows to be free. */
  reserveFree(start: number, frames: number): void {
    const what = `reserve({ base: ${hex(start)}, length: ${hex(frames * PAGE_SIZE)} })`;
    this.call(what, () => this.pmm.reserve({ base: start, length: frames * PAGE_SIZE }));
    const span = { start, end: start + frames * PAGE_SIZE };
    this.reserved.push(span);
    this.reservedCount += frames;
    const byZone = framesByZone([span], this.limits);
    for (const zone of ZONE_ORDER) this.reservedZone[zone] += byZone[zone];
    this.counters.reserves++;
    this.note(`${what} took ${frames} free frame(s) out`);
  }

  /** Rewrites a run's frames with a new generation of the pattern. */
  rewrite(run: LiveRun): void {
    this.verifyRunPattern(run, 0, run.frames, "before rewriting it");
    run.generation++;
    for (let i = 0; i < run.frames; i++) {
      writeFramePattern(this.env.ram, run.start + i * PAGE_SIZE, run.owner, run.generation);
    }
    this.note(`wrote generation ${run.generation} of the pattern into ${this.describeRun(run)}`);
  }

  /** Frees every live run in `order`, then expects the initial free count back (minus reserve()). */
  freeAll(order: PmmFreeOrder): void {
    const runs = [...this.live].sort((a, b) => a.owner - b.owner || a.start - b.start);
    let sequence = runs;
    if (order === "reverse") sequence = runs.reverse();
    else if (order === "interleaved") {
      sequence = [...runs.filter((_, i) => i % 2 === 0), ...runs.filter((_, i) => i % 2 === 1)];
    }
    this.note(`free all ${sequence.length} runs, ${order}`);
    for (const run of sequence) {
      if (order === "piecewise" && this.profile.contiguous && run.frames > 1) {
        // Upper half first: the lower part stays a live run of its own until its turn.
        const half = Math.floor(run.frames / 2);
        this.free(run, half);
        const lower = this.live.find((r) => r.start === run.start)!;
        this.free(lower);
      } else {
        this.free(run);
      }
    }
    this.verifyAll(true);
    if (this.expectedFree > 0) {
      // Recovers: with everything back, a single frame must be available again.
      const run = this.allocate(1);
      if (run !== undefined) this.free(run);
      this.verifyAll(true);
    }
  }

  // ---- invariants ----

  verifyAll(forceCheck = false): void {
    if (forceCheck || this.checkEveryStep) this.runCheck("");
    this.verifyStats();
    for (const run of this.live) {
      this.verifyFrame(run, run.start, "");
      if (run.frames > 1) this.verifyFrame(run, run.start + (run.frames - 1) * PAGE_SIZE, "");
    }
    if (forceCheck || this.checkEveryStep) this.verifyFrameQuery();
  }

  /**
   * When the PMM answers `isFrameFree`, it must agree with the model: true at the edges and the
   * middle of every free span, false at the edges of every live run and reserved range, for
   * frame 0 and past the end of RAM, and any address inside a frame answers for the frame.
   */
  verifyFrameQuery(): void {
    const query = this.pmm.isFrameFree;
    if (query === undefined) return;
    const expect = (addr: number, free: boolean, what: string): void => {
      let answer: boolean;
      try {
        answer = query.call(this.pmm, addr);
      } catch (error) {
        return this.fail(
          "frame-query",
          `isFrameFree(${hex(addr)}) threw ${describeThrown(error)}`,
          error,
        );
      }
      if (answer !== free) {
        this.fail(
          "frame-query",
          `isFrameFree(${hex(addr)}) is ${String(answer)} for ${what}; the model says ${String(free)}`,
        );
      }
    };
    for (const span of this.freeSpans()) {
      const last = span.end - PAGE_SIZE;
      const middle = span.start + Math.floor((span.end - span.start) / PAGE_SIZE / 2) * PAGE_SIZE;
      expect(span.start, true, `the first frame of free span ${hex(span.start)}..${hex(span.end)}`);
      expect(
        last + 123,
        true,
        `an address in the last frame of free span ${hex(span.start)}..${hex(span.end)}`,
      );
      expect(middle, true, `a middle frame of free span ${hex(span.start)}..${hex(span.end)}`);
    }
    for (const run of this.live) {
      expect(run.start, false, `the first frame of live ${this.describeRun(run)}`);
      expect(
        run.start + (run.frames - 1) * PAGE_SIZE + 7,
        false,
        `the last frame of live ${this.describeRun(run)}`,
      );
    }
    for (const span of this.reserved)
      expect(span.start, false, `reserved ${hex(span.start)}..${hex(span.end)}`);
    expect(0, false, "frame 0");
    expect(PHYS_ADDR_LIMIT - PAGE_SIZE, false, "a frame far past the end of RAM");
  }

  runCheck(when: string): void {
    try {
      this.pmm.check();
    } catch (error) {
      this.fail(
        "check",
        `check() threw${when === "" ? "" : ` ${when}`}: ${describeThrown(error)}`,
        error,
      );
    }
  }

  /** Every frame of every live run holds its pattern. */
  verifyAllPatterns(when: string): void {
    for (const run of this.live) this.verifyRunPattern(run, 0, run.frames, when);
  }

  verifyRunPattern(run: LiveRun, offset: number, frames: number, when: string): void {
    for (let i = offset; i < offset + frames; i++)
      this.verifyFrame(run, run.start + i * PAGE_SIZE, when);
  }

  private verifyFrame(run: LiveRun, frame: number, when: string): void {
    const broken = checkFramePattern(this.env.ram, frame, run.owner, run.generation);
    if (broken !== undefined) {
      this.fail(
        "pattern",
        `frame ${hex(frame)} of live ${this.describeRun(run)} was changed${when === "" ? "" : ` (seen ${when})`}: at +${broken.offset} it holds ${hex(broken.actual)}, the suite wrote ${hex(broken.expected)}; a PMM keeps its metadata in free frames only`,
      );
    }
  }

  /** stats() against the model: free counts exact, totals and zones consistent. */
  verifyStats(): void {
    const stats = this.readStats();
    const fail = (message: string): never => this.fail("stats", message);
    for (const field of ["totalFrames", "freeFrames", "usedFrames", "metadataBytes"] as const) {
      const value = stats[field];
      if (!Number.isSafeInteger(value) || value < 0) {
        fail(`stats().${field} is ${String(value)}, not a non-negative integer`);
      }
    }
    const total = this.env.totalFrames;
    const reserved = this.reservedCount;
    if (stats.freeFrames !== this.expectedFree) {
      fail(
        `stats().freeFrames is ${stats.freeFrames}, expected ${this.expectedFree} (${total} managed frames - ${this.liveCount} allocated - ${reserved} taken by reserve())`,
      );
    }
    if (stats.totalFrames !== total && !(reserved > 0 && stats.totalFrames === total - reserved)) {
      fail(
        `stats().totalFrames is ${stats.totalFrames}, expected ${total}: usable RAM of the normalised map minus frame 0, the kernel, the module and the boot allocator's ranges${reserved > 0 ? ` (or ${total - reserved} without the ${reserved} frames taken by reserve())` : ""}`,
      );
    }
    if (stats.usedFrames !== stats.totalFrames - stats.freeFrames) {
      fail(
        `stats().usedFrames is ${stats.usedFrames}, but totalFrames - freeFrames is ${stats.totalFrames - stats.freeFrames}`,
      );
    }
    if (typeof stats.zones !== "object" || stats.zones === null) fail("stats().zones is missing");
    let zoneTotal = 0;
    for (const zone of ZONE_ORDER) {
      const z = stats.zones[zone];
      if (typeof z !== "object" || z === null) fail(`stats().zones.${zone} is missing`);
      const zoneTotalFrames = this.env.zoneFrames[zone];
      const zoneReserved = this.reservedZone[zone];
      const free = this.expectedZoneFree(zone);
      if (z.freeFrames !== free) {
        fail(
          `stats().zones.${zone}.freeFrames is ${z.freeFrames}, expected ${free} (${zoneTotalFrames} managed - ${this.liveZone[zone]} allocated - ${zoneReserved} reserved in the zone)`,
        );
      }
      if (
        z.totalFrames !== zoneTotalFrames &&
        !(zoneReserved > 0 && z.totalFrames === zoneTotalFrames - zoneReserved)
      ) {
        fail(`stats().zones.${zone}.totalFrames is ${z.totalFrames}, expected ${zoneTotalFrames}`);
      }
      if (z.usedFrames !== z.totalFrames - z.freeFrames) {
        fail(
          `stats().zones.${zone}.usedFrames is ${z.usedFrames}, but totalFrames - freeFrames is ${z.totalFrames - z.freeFrames}`,
        );
      }
      zoneTotal += z.totalFrames;
    }
    if (zoneTotal !== stats.totalFrames) {
      fail(
        `the zones' totalFrames add up to ${zoneTotal}, but stats().totalFrames is ${stats.totalFrames}`,
      );
    }
  }

  /** A page-aligned address inside `[start, end)` chosen by `offset`, for command targets. */
  static pick(start: number, end: number, offset: number): number {
    const frames = Math.max(1, Math.floor((end - start) / PAGE_SIZE));
    return pageDown(start) + (offset % frames) * PAGE_SIZE;
  }
}
