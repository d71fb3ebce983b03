import { PAGE_SIZE, hex, isAllocatorError } from "@allockit/core";
import type {
  MapRequest,
  PhysicalMemoryManager,
  Protection,
  VirtualMemoryManager,
} from "@allockit/core";
import { CR0_PG, CR0_WP } from "@allockit/x86-machine";
import type { Machine } from "@allockit/x86-machine";
import { ConformanceViolation, describeThrown } from "../violation.js";
import {
  ModelSpace,
  describeProtection,
  extentStart,
  fillFixedPattern,
  regionEnd,
} from "./model.js";
import type { ModelPage, ModelRegion } from "./model.js";
import { SUITE_CPUS, addressFormatter } from "./system.js";
import type { VmmSystem } from "./system.js";
import { verifyAll, verifyDecommitted } from "./verify.js";

/** Counts across the runs of a check, for its report. */
export interface VmmRunCounters {
  steps: number;
  maps: number;
  unmaps: number;
  protects: number;
  commits: number;
  decommits: number;
  reads: number;
  writes: number;
  /** Accesses that faulted as the model expected (AccessFault with the right report). */
  expectedFaults: number;
  staleProbes: number;
  spacesCreated: number;
  rejectedCalls: number;
}

export function newVmmCounters(): VmmRunCounters {
  return {
    steps: 0,
    maps: 0,
    unmaps: 0,
    protects: 0,
    commits: 0,
    decommits: 0,
    reads: 0,
    writes: 0,
    expectedFaults: 0,
    staleProbes: 0,
    spacesCreated: 0,
    rejectedCalls: 0,
  };
}

/** What map() gets when the request leaves protection out. */
export const DEFAULT_PROTECTION: Protection = { write: true, user: false, execute: false };
/** Below this many free frames, map() and commit() may rightly run out of memory. */
export const LOW_MEMORY_FRAMES = 256;
const TRACE_LINES = 40;

/**
 * Drives one booted system and keeps the suite's model of it: the spaces, their regions and
 * pages, which space each CPU has loaded, and the fixed frames the suite took from the PMM.
 * Every operation checks its own result; `verifyAll` checks the rest after each step. A
 * broken rule throws a {@link ConformanceViolation} ending with the last steps taken.
 */
export class VmmHarness {
  readonly machine: Machine;
  readonly vmm: VirtualMemoryManager;
  readonly pmm: PhysicalMemoryManager;
  readonly kernel: ModelSpace;
  /** Live user spaces, oldest first. */
  readonly users: ModelSpace[] = [];
  /** The space each suite CPU has loaded. */
  readonly loaded: ModelSpace[];
  readonly cpuCount: number;
  readonly format: (va: number) => string;
  /** Free frames right after boot: what the end of a sequence must give back. */
  readonly baselineFreeFrames: number;
  /** Spaces vmm.spaces() lists right after boot (the kernel space). */
  readonly baselineSpaces: number;
  /** Fixed frames the suite took from the PMM and has not freed yet. */
  readonly heldFrames = new Set<number>();
  private readonly trace: string[] = [];
  private stepNumber = 0;
  private nextRegion = 0;

  constructor(
    readonly system: VmmSystem,
    readonly counters: VmmRunCounters = newVmmCounters(),
    /** vmm.check() after every step; otherwise only where a step asks for it. */
    readonly checkEveryStep = true,
  ) {
    this.machine = system.machine;
    this.vmm = system.vmm;
    this.pmm = system.pmm;
    this.format = addressFormatter(this.vmm);
    this.cpuCount = Math.min(SUITE_CPUS, this.machine.cpus.length);
    const kernelSpace = this.call("vmm.kernelSpace", () => this.vmm.kernelSpace);
    this.kernel = new ModelSpace(kernelSpace, "kernel");
    this.kernel.adoptBaseline(this.call("kernelSpace.regions()", () => kernelSpace.regions()));
    this.loaded = [];
    for (let cpu = 0; cpu < this.cpuCount; cpu++) {
      const c = this.machine.cpus[cpu]!;
      if ((c.cr0 & CR0_PG) === 0) this.fail("boot", `paging is off on CPU ${cpu} after boot`);
      if ((c.cr0 & CR0_WP) === 0) {
        this.fail(
          "boot",
          `CR0.WP is 0 on CPU ${cpu} after boot: the kernel could write to read-only pages`,
        );
      }
      this.loaded.push(this.kernel);
    }
    this.baselineFreeFrames = this.call("pmm.stats()", () => this.pmm.stats().freeFrames);
    this.baselineSpaces = this.call("vmm.spaces()", () => this.vmm.spaces().length);
  }

  get step(): number {
    return this.stepNumber;
  }

  // ---- reporting ----

  fail(check: string, message: string, cause?: unknown): never {
    const where = `VMM "${this.vmm.name}" (${this.vmm.mode}, ${this.vmm.access})`;
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
  run(action: () => void, forceCheck = false): void {
    this.stepNumber++;
    this.counters.steps++;
    action();
    verifyAll(this, forceCheck || this.checkEveryStep);
  }

  /** Runs a VMM or PMM call, turning an unexpected throw into a violation. */
  call<T>(what: string, action: () => T): T {
    try {
      return action();
    } catch (error) {
      if (error instanceof ConformanceViolation) throw error;
      return this.fail("unexpected-error", `${what} threw ${describeThrown(error)}`, error);
    }
  }

  describeRegion(region: ModelRegion): string {
    const guard = region.guardBytes > 0 ? ` + ${region.guardBytes / PAGE_SIZE}-page guard` : "";
    const physical = region.physical === undefined ? "" : ` -> ${hex(region.physical)}`;
    return `${region.label} ${region.kind} [${this.format(region.start)}, ${this.format(regionEnd(region))})${guard} ${describeProtection(region.protection)}${physical}`;
  }

  describeRange(a: number, b: number): string {
    return `${this.format(a)}, ${hex(b - a)}`;
  }

  /** Live model spaces, kernel first. */
  spaces(): ModelSpace[] {
    return [this.kernel, ...this.users];
  }

  /** Spaces whose regions an access from `cpu` reaches: the loaded one and the kernel half. */
  visibleSpaces(cpu: number): ModelSpace[] {
    const loaded = this.loaded[cpu]!;
    return loaded === this.kernel ? [this.kernel] : [loaded, this.kernel];
  }

  // ---- spaces ----

  createSpace(): ModelSpace {
    const space = this.call("vmm.createSpace()", () => this.vmm.createSpace());
    const fail = (message: string): never => this.fail("create-space", message);
    if (space.kernel) fail(`vmm.createSpace() returned a space with kernel = true`);
    if (space.destroyed) fail(`vmm.createSpace() returned a destroyed space`);
    if (!(space.low > 0) || space.low % PAGE_SIZE !== 0 || space.high % PAGE_SIZE !== 0) {
      fail(
        `vmm.createSpace() returned [low, high) = [${this.format(space.low)}, ${this.format(space.high)}): low must be page-aligned and above 0 (page 0 is never mapped), high page-aligned`,
      );
    }
    if (space.low >= space.high) fail(`the new space's range is empty`);
    const k = this.kernel.space;
    if (space.low < k.high && space.high > k.low) {
      fail(
        `the new space's range [${this.format(space.low)}, ${this.format(space.high)}) overlaps the kernel half [${this.format(k.low)}, ${this.format(k.high)})`,
      );
    }
    if (this.spaces().some((s) => s.space.id === space.id)) {
      fail(`vmm.createSpace() returned id ${space.id}, which a live space already has`);
    }
    const model = new ModelSpace(space, `u${space.id}`);
    model.adoptBaseline(this.call(`${model.label}.regions()`, () => space.regions()));
    this.users.push(model);
    this.counters.spacesCreated++;
    this.note(
      `createSpace() -> ${model.label} [${this.format(space.low)}, ${this.format(space.high)})`,
    );
    return model;
  }

  /** Loads the kernel space wherever `model` is loaded, then destroys it. */
  destroySpace(model: ModelSpace): void {
    for (let cpu = 0; cpu < this.cpuCount; cpu++) {
      if (this.loaded[cpu] === model) this.activate(this.kernel, cpu);
    }
    this.call(`${model.label}.destroy()`, () => model.space.destroy());
    if (!model.space.destroyed) {
      this.fail("destroy", `${model.label}.destroy() returned but destroyed is still false`);
    }
    model.destroyed = true;
    this.users.splice(this.users.indexOf(model), 1);
    // destroy() never returns fixed frames to the PMM: the suite gives them back itself.
    for (const page of model.pages.values()) {
      if (page.fixedFrame !== undefined)
        this.freeFixedFrame(page.fixedFrame, `${model.label}.destroy()`);
    }
    this.note(`${model.label}.destroy()`);
  }

  activate(model: ModelSpace, cpu: number): void {
    this.call(`${model.label}.activate(${cpu})`, () => model.space.activate(cpu));
    this.loaded[cpu] = model;
    const cr3 = this.machine.cpus[cpu]!.cr3;
    const root = model.space.root;
    // CR3 holds the root plus PWT/PCD (bits 3, 4); in PAE mode the root is 32-byte aligned.
    if (!(cr3 >= root && cr3 - root < 32)) {
      this.fail(
        "activate",
        `${model.label}.activate(${cpu}) left CR3 = ${hex(cr3)} on CPU ${cpu}, but the space's root is ${hex(root)}`,
      );
    }
    this.note(`${model.label}.activate(${cpu})`);
  }

  // ---- regions ----

  /**
   * Takes `pages` physically contiguous frames for a "fixed" region (fewer when the PMM
   * hands out single frames and they do not line up), filled with the suite's pattern.
   */
  takeFixedFrames(pages: number): { frame: number; pages: number } | undefined {
    const caps = this.pmm.capabilities;
    let first: number;
    let count: number;
    if (caps.contiguous && caps.maxContiguousFrames >= pages) {
      first = this.call(`pmm.allocFrames(${pages})`, () => this.pmm.allocFrames(pages));
      count = first === 0 ? 0 : pages;
    } else {
      first = this.call("pmm.allocFrames(1)", () => this.pmm.allocFrames(1));
      count = first === 0 ? 0 : 1;
      while (count > 0 && count < pages) {
        const next = this.call("pmm.allocFrames(1)", () => this.pmm.allocFrames(1));
        if (next === first + count * PAGE_SIZE) count++;
        else if (next === first - PAGE_SIZE) {
          first = next;
          count++;
        } else {
          if (next !== 0)
            this.call(`pmm.freeFrames(${hex(next)}, 1)`, () => this.pmm.freeFrames(next, 1));
          break;
        }
      }
    }
    if (count === 0) return undefined;
    for (let i = 0; i < count; i++) {
      const frame = first + i * PAGE_SIZE;
      fillFixedPattern(this.machine.memory, frame);
      this.heldFrames.add(frame);
    }
    return { frame: first, pages: count };
  }

  freeFixedFrame(frame: number, after: string): void {
    try {
      this.pmm.freeFrames(frame, 1);
    } catch (error) {
      if (isAllocatorError(error) && error.code === "EDOUBLEFREE") {
        this.fail(
          "fixed-frames",
          `frame ${hex(frame)} of a "fixed" region was already free after ${after}: a VMM never returns the frames of a fixed region to the PMM (they belong to the caller)`,
          error,
        );
      }
      this.fail(
        "unexpected-error",
        `pmm.freeFrames(${hex(frame)}, 1) threw ${describeThrown(error)}`,
        error,
      );
    }
    this.heldFrames.delete(frame);
  }

  freeFrames(): number {
    return this.call("pmm.stats()", () => this.pmm.stats().freeFrames);
  }

  describeMap(model: ModelSpace, request: MapRequest): string {
    const parts = [`kind: "${request.kind}"`, `sizeBytes: ${hex(request.sizeBytes)}`];
    if (request.at !== undefined) parts.push(`at: ${this.format(request.at)}`);
    if (request.topDown === true) parts.push("topDown: true");
    if (request.align !== undefined) parts.push(`align: ${hex(request.align)}`);
    if (request.physical !== undefined) parts.push(`physical: ${hex(request.physical)}`);
    if (request.protection !== undefined)
      parts.push(`protection: ${describeProtection(request.protection)}`);
    if (request.commit === true) parts.push("commit: true");
    return `${model.label}.map({ ${parts.join(", ")} })`;
  }

  /**
   * map() and adopt the region; undefined when it returned 0 (accepted only when memory is
   * low). With `at`, a stack may put `at` at its usable start or at its guard.
   */
  map(model: ModelSpace, request: MapRequest): ModelRegion | undefined {
    const what = this.describeMap(model, request);
    const start = this.call(what, () => model.space.map(request));
    if (start === 0) {
      const free = this.freeFrames();
      if (free > LOW_MEMORY_FRAMES) {
        this.fail(
          "map",
          `${what} returned 0 while the PMM has ${free} free frames and the model has room for it`,
        );
      }
      this.note(`${what} -> 0 (out of memory, ${free} frames free)`);
      return undefined;
    }
    const fail = (message: string): never =>
      this.fail("map", `${what} returned ${this.format(start)}: ${message}`);
    if (!Number.isSafeInteger(start) || start % PAGE_SIZE !== 0) fail("not a page-aligned address");
    const guardBytes = request.kind === "stack" ? PAGE_SIZE : 0;
    if (
      request.at !== undefined &&
      start !== request.at &&
      !(guardBytes > 0 && start === request.at + guardBytes)
    ) {
      fail(`it was asked for at = ${this.format(request.at)}`);
    }
    if (request.align !== undefined && start % request.align !== 0)
      fail(`not aligned to ${hex(request.align)}`);
    // regionAt, not regions(): a VMM may merge the new region with a neighbour that agrees.
    const real = this.call(`${model.label}.regionAt(${this.format(start)})`, () =>
      model.space.regionAt(start),
    );
    if (real === undefined || real.kind !== request.kind) {
      fail(
        `regionAt(${this.format(start)}) is ${real === undefined ? "undefined" : `a ${real.kind} region`}`,
      );
    } else if (real.start === start && real.guardBytes !== guardBytes) {
      fail(
        `regions() gives it guardBytes ${hex(real.guardBytes)}; expected ${hex(guardBytes)} (${request.kind === "stack" ? "one guard page below a stack" : "no guard"})`,
      );
    }
    const end = start + request.sizeBytes;
    if (!model.isFree(start - guardBytes, end)) {
      const clash =
        model.regionAt(start - guardBytes) ??
        model.regions.find((r) => extentStart(r) < end && regionEnd(r) > start - guardBytes);
      fail(
        clash === undefined
          ? `[${this.format(start - guardBytes)}, ${this.format(end)}) is not inside the space's range [${this.format(model.low)}, ${this.format(model.high)})`
          : `it overlaps ${this.describeRegion(clash)}`,
      );
    }
    const region: ModelRegion = {
      start,
      sizeBytes: request.sizeBytes,
      kind: request.kind,
      protection: { ...(request.protection ?? DEFAULT_PROTECTION) },
      guardBytes,
      physical: request.physical,
      baseline: false,
      label: `${model.kernel ? "k" : `${model.label}.`}r${this.nextRegion++}`,
    };
    model.addRegion(region, request.commit === true && request.kind !== "guard");
    this.counters.maps++;
    this.note(`${what} -> ${this.describeRegion(region)}`);
    return region;
  }

  unmap(model: ModelSpace, a: number, b: number): void {
    const what = `${model.label}.unmap(${this.describeRange(a, b)})`;
    this.call(what, () => model.space.unmap(a, b - a));
    const removed = model.removeRange(a, b, `unmapped by step #${this.stepNumber}: ${what}`);
    for (const page of removed) {
      if (page.fixedFrame !== undefined) this.freeFixedFrame(page.fixedFrame, what);
    }
    this.counters.unmaps++;
    this.note(`${what} removed ${removed.length} usable page(s)`);
  }

  protect(model: ModelSpace, a: number, b: number, protection: Protection): void {
    const what = `${model.label}.protect(${this.describeRange(a, b)}, ${describeProtection(protection)})`;
    this.call(what, () => model.space.protect(a, b - a, protection));
    model.protectRange(a, b, protection, `protected by step #${this.stepNumber}: ${what}`);
    this.counters.protects++;
    this.note(what);
  }

  commit(model: ModelSpace, a: number, b: number): void {
    const what = `${model.label}.commit(${this.describeRange(a, b)})`;
    const ok = this.call(what, () => model.space.commit(a, b - a));
    if (ok !== true) {
      const free = this.freeFrames();
      if (ok !== false || free > LOW_MEMORY_FRAMES) {
        this.fail("commit", `${what} returned ${String(ok)} while the PMM has ${free} free frames`);
      }
      this.note(`${what} -> false (out of memory)`);
      return;
    }
    for (let va = a; va < b; va += PAGE_SIZE) {
      const page = model.pages.get(va);
      if (page !== undefined) page.committed = true;
    }
    this.counters.commits++;
    this.note(`${what} -> true`);
  }

  decommit(model: ModelSpace, a: number, b: number): void {
    const what = `${model.label}.decommit(${this.describeRange(a, b)})`;
    this.call(what, () => model.space.decommit(a, b - a));
    const before = new Map<number, ModelPage>();
    for (let va = a; va < b; va += PAGE_SIZE) {
      const page = model.pages.get(va);
      if (page === undefined) continue;
      before.set(va, { ...page });
      page.written = undefined;
      page.committed = false;
      model.changed.set(va, `decommitted by step #${this.stepNumber}: ${what}`);
    }
    verifyDecommitted(this, model, before, what);
    this.counters.decommits++;
    this.note(what);
  }

  /**
   * Ends a sequence: the kernel space loaded everywhere, every kernel region the suite made
   * unmapped, every user space destroyed, the fixed frames freed; then the PMM must have
   * exactly the free frames it had right after boot, and check() must pass.
   */
  finish(): void {
    this.stepNumber++;
    this.note("end of sequence: unmap the suite's kernel regions, destroy every user space");
    for (let cpu = 0; cpu < this.cpuCount; cpu++) {
      if (this.loaded[cpu] !== this.kernel) this.activate(this.kernel, cpu);
    }
    for (const region of this.kernel.ownRegions()) {
      this.unmap(this.kernel, extentStart(region), regionEnd(region));
    }
    for (const model of [...this.users]) this.destroySpace(model);
    for (const frame of [...this.heldFrames]) this.freeFixedFrame(frame, "the end of the sequence");
    verifyAll(this, true);
    const free = this.freeFrames();
    if (free !== this.baselineFreeFrames) {
      this.fail(
        "leak",
        `after unmapping every kernel region the suite made and destroying every user space, the PMM has ${free} free frames; right after boot it had ${this.baselineFreeFrames} (${this.baselineFreeFrames > free ? `${this.baselineFreeFrames - free} frame(s) never returned: data frames or page-table pages` : `${free - this.baselineFreeFrames} frame(s) too many: a frame freed that was not the VMM's`})`,
      );
    }
  }
}
