import fc from "fast-check";
import { MiB, PAGE_SIZE } from "@allockit/core";
import { describe, expect, it } from "vitest";
import { GuardHeap, GuardViolation } from "../src/index.js";
import type { GuardMode, GuardViolationKind } from "../src/index.js";
import { flatGuard, thrown } from "./helpers.js";
import { bootMachine, guardOnMachine } from "./machine.js";

/**
 * The guard heap against a model of its detections: allocations with modes and tags, frees,
 * double and invalid frees, scribbles over slack and canary, and on the machine overflows,
 * underflows and reads after free. The quarantine is large enough that nothing is evicted.
 */

interface GuardedObject {
  ptr: number;
  requested: number;
  size: number;
  align: number;
  mode: GuardMode;
  tag: string;
  sequence: number;
  fill: number;
}

interface Model {
  live: GuardedObject[];
  /** Freed objects, oldest first. */
  freed: GuardedObject[];
  sequence: number;
  guardPages: boolean;
}

interface Real {
  heap: GuardHeap;
}

const runOf = (ptr: number): number => ptr - (ptr % PAGE_SIZE);
const runEndOf = (o: GuardedObject): number =>
  runOf(o.ptr) + Math.ceil(o.size / PAGE_SIZE) * PAGE_SIZE;
const hasCanary = (o: GuardedObject): boolean =>
  o.mode === "left" ? runEndOf(o) - (o.ptr + o.size) >= 4 : o.ptr - runOf(o.ptr) >= 4;

function violationOf(action: () => void): GuardViolation {
  const error = thrown(action);
  expect(error).toBeInstanceOf(GuardViolation);
  return error as GuardViolation;
}

function verify(model: Model, { heap }: Real): void {
  heap.check();
  const stats = heap.stats();
  expect(stats.liveBlocks).toBe(model.live.length);
  expect(stats.liveBytes).toBe(model.live.reduce((sum, o) => sum + o.size, 0));
  expect(stats.requestedBytes).toBe(model.live.reduce((sum, o) => sum + o.requested, 0));
  for (const o of model.live) {
    expect(heap.heap_size(o.ptr)).toBe(o.size);
    expect(heap.objectAt(o.ptr)).toMatchObject({ sequence: o.sequence, tag: o.tag, mode: o.mode });
    expect([heap.memory.read8(o.ptr), heap.memory.read8(o.ptr + o.size - 1)]).toEqual([
      o.fill,
      o.fill,
    ]);
  }
}

type GuardCommand = fc.Command<Model, Real>;

class Alloc implements GuardCommand {
  constructor(
    readonly requested: number,
    readonly align: number,
    readonly mode: GuardMode,
    readonly tag: string,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const ptr = real.heap.guardAlloc(this.requested, this.align, {
      mode: this.mode,
      tag: this.tag,
    });
    expect(ptr).not.toBe(0);
    const effective = Math.max(this.align, 16);
    const o: GuardedObject = {
      ptr,
      requested: this.requested,
      size: Math.max(this.requested, 1),
      align: effective,
      mode: this.mode,
      tag: this.tag,
      sequence: ++model.sequence,
      fill: (model.sequence & 0x7f) | 1,
    };
    expect(ptr % effective).toBe(0);
    if (this.mode === "left") expect(ptr).toBe(runOf(ptr));
    else expect(runEndOf(o) - (ptr + o.size)).toBeLessThan(effective);
    real.heap.memory.fill(ptr, o.fill, o.size);
    model.live.push(o);
    verify(model, real);
  }
  toString(): string {
    return `alloc(${this.requested}, ${this.align}, ${this.mode}, ${JSON.stringify(this.tag)})`;
  }
}

class Free implements GuardCommand {
  constructor(readonly pick: number) {}
  check(model: Readonly<Model>): boolean {
    return model.live.length > 0;
  }
  run(model: Model, real: Real): void {
    const [o] = model.live.splice(this.pick % model.live.length, 1);
    real.heap.heap_free(o!.ptr);
    model.freed.push(o!);
    expect(real.heap.heap_size(o!.ptr)).toBe(0);
    expect(real.heap.objectAt(o!.ptr)).toMatchObject({ sequence: o!.sequence, tag: o!.tag });
    verify(model, real);
  }
  toString(): string {
    return `free(#${this.pick})`;
  }
}

class DoubleFree implements GuardCommand {
  constructor(readonly pick: number) {}
  check(model: Readonly<Model>): boolean {
    return model.freed.length > 0;
  }
  run(model: Model, real: Real): void {
    const ptr = model.freed[this.pick % model.freed.length]!.ptr;
    if (model.live.some((o) => o.ptr === ptr)) return; // handed out again: a valid pointer
    const newest = model.freed.filter((o) => o.ptr === ptr).at(-1)!;
    const v = violationOf(() => real.heap.heap_free(ptr));
    expect([v.kind, v.code, v.sequence, v.tag]).toEqual([
      "double-free",
      "EDOUBLEFREE",
      newest.sequence,
      newest.tag,
    ]);
    verify(model, real);
  }
  toString(): string {
    return `doubleFree(#${this.pick})`;
  }
}

class InvalidFree implements GuardCommand {
  constructor(
    readonly pick: number,
    readonly delta: number,
  ) {}
  check(model: Readonly<Model>): boolean {
    return model.live.length > 0;
  }
  run(model: Model, real: Real): void {
    const o = model.live[this.pick % model.live.length]!;
    // Anywhere in its run after its start: interior, canary or slack.
    const target = o.ptr + 1 + (this.delta % (runEndOf(o) - o.ptr - 1 || 1));
    if (target >= runEndOf(o)) return;
    // A pointer freed before stays a double free, even where a newer object now lies.
    const older = model.freed.filter((f) => f.ptr === target).at(-1);
    const v = violationOf(() => real.heap.heap_free(target));
    if (older !== undefined) expect([v.kind, v.sequence]).toEqual(["double-free", older.sequence]);
    else
      expect([v.kind, v.code, v.sequence, v.address]).toEqual([
        "invalid-free",
        "EFAULT",
        o.sequence,
        target,
      ]);
    verify(model, real);
  }
  toString(): string {
    return `invalidFree(#${this.pick}, +${this.delta})`;
  }
}

class Scribble implements GuardCommand {
  constructor(
    readonly pick: number,
    readonly where: "slack" | "canary" | "overflow" | "underflow",
  ) {}
  check(model: Readonly<Model>): boolean {
    return (
      model.live.length > 0 &&
      (model.guardPages || this.where === "slack" || this.where === "canary")
    );
  }
  run(model: Model, real: Real): void {
    const o = model.live[this.pick % model.live.length]!;
    const run = runOf(o.ptr);
    const runEnd = runEndOf(o);
    const end = o.ptr + o.size;
    const canary = hasCanary(o);
    let address: number;
    let kind: GuardViolationKind;
    if (this.where === "slack") {
      const before = o.mode === "right" ? o.ptr - run - (canary ? 4 : 0) : 0;
      const after = runEnd - end - (o.mode === "left" && canary ? 4 : 0);
      if (before <= 0 && after <= 0) return;
      address = before > 0 ? run + (this.pick % before) : runEnd - 1 - (this.pick % after);
      kind = "slack-corrupted";
    } else if (this.where === "canary") {
      if (!canary) return;
      address = (o.mode === "left" ? end : o.ptr - 4) + (this.pick % 4);
      kind = "canary-corrupted";
    } else if (this.where === "overflow") {
      address = end;
      kind =
        end === runEnd
          ? "overflow"
          : o.mode === "left" && canary
            ? "canary-corrupted"
            : "slack-corrupted";
    } else {
      address = o.ptr - 1;
      kind = o.ptr === run ? "underflow" : canary ? "canary-corrupted" : "slack-corrupted";
    }
    const v = violationOf(() => {
      real.heap.memory.write8(address, real.heap.memory.read8(address) ^ 0x80);
      real.heap.heap_free(o.ptr);
    });
    expect([v.kind, v.address, v.sequence, v.tag]).toEqual([kind, address, o.sequence, o.tag]);
    // The object is still live and its signature whole again.
    expect(real.heap.heap_size(o.ptr)).toBe(o.size);
    verify(model, real);
  }
  toString(): string {
    return `scribble(#${this.pick}, ${this.where})`;
  }
}

class UseAfterFree implements GuardCommand {
  constructor(
    readonly pick: number,
    readonly write: boolean,
  ) {}
  check(model: Readonly<Model>): boolean {
    return model.guardPages && model.freed.length > 0;
  }
  run(model: Model, real: Real): void {
    const o = model.freed[this.pick % model.freed.length]!;
    const address = o.ptr + (this.pick % o.size);
    const v = violationOf(() =>
      this.write ? real.heap.memory.write8(address, 1) : real.heap.memory.read8(address),
    );
    expect([v.kind, v.sequence, v.offset]).toEqual([
      this.write ? "use-after-free-write" : "use-after-free-read",
      o.sequence,
      address - o.ptr,
    ]);
    verify(model, real);
  }
  toString(): string {
    return `useAfterFree(#${this.pick}, ${this.write ? "write" : "read"})`;
  }
}

const tags = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 31,
});
const sizes = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 300 }) },
  { weight: 2, arbitrary: fc.integer({ min: 4000, max: 4200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4200, max: 4 * PAGE_SIZE }) },
);
const commands = [
  fc
    .tuple(
      sizes,
      fc.constantFrom(0, 16, 32, 64, 256, 4096),
      fc.constantFrom<GuardMode>("right", "left"),
      tags,
    )
    .map(([s, a, m, t]) => new Alloc(s, a, m, t)),
  fc.nat({ max: 1000 }).map((p) => new Free(p)),
  fc.nat({ max: 1000 }).map((p) => new DoubleFree(p)),
  fc
    .tuple(fc.nat({ max: 1000 }), fc.nat({ max: 5 * PAGE_SIZE }))
    .map(([p, d]) => new InvalidFree(p, d)),
  fc
    .tuple(
      fc.nat({ max: 1000 }),
      fc.constantFrom("slack", "canary", "overflow", "underflow") as fc.Arbitrary<
        Scribble["where"]
      >,
    )
    .map(([p, w]) => new Scribble(p, w)),
  fc.tuple(fc.nat({ max: 1000 }), fc.boolean()).map(([p, w]) => new UseAfterFree(p, w)),
];

function freeEverything(model: Model, { heap }: Real): void {
  for (const o of model.live) heap.heap_free(o.ptr);
  heap.check();
  expect(heap.stats()).toMatchObject({ liveBlocks: 0, liveBytes: 0, requestedBytes: 0 });
}

describe("GuardHeap against a model", () => {
  it("over flat pages: double, invalid frees and slack and canary damage, with address reuse", () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 40 }), (cmds) => {
        const { heap } = flatGuard({ quarantinePages: 1024 }, 16 * MiB);
        const model: Model = { live: [], freed: [], sequence: 0, guardPages: false };
        const real = { heap };
        fc.modelRun(() => ({ model, real }), cmds);
        freeEverything(model, real);
      }),
      { numRuns: 150 },
    );
  });

  it("on the machine: also overflow, underflow and use after free, as faults", () => {
    const vmm = bootMachine();
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 40 }), (cmds) => {
        const { heap, source } = guardOnMachine(vmm, { quarantinePages: 1024 });
        try {
          const model: Model = { live: [], freed: [], sequence: 0, guardPages: true };
          const real = { heap };
          fc.modelRun(() => ({ model, real }), cmds);
          freeEverything(model, real);
          source.check();
        } finally {
          source.destroy();
        }
      }),
      { numRuns: 100 },
    );
  });
});
