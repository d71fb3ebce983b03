import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isAllocatorError, nextPowerOfTwo } from "@allockit/core";
import { BUCKET_FLAGS } from "../src/index.js";
import { KiB, MiB, flatBucketHeap, hasPattern, writePattern } from "./helpers.js";
import type { FlatBucketHeap } from "./helpers.js";

const { VIRTUAL, PHYSICAL, CLEAR, LOW1MEG, LOW16MEG, LOW4GIG, PERSISTENT } = BUCKET_FLAGS;

/** The model's own reading of the flag rules. */
function expectedFlags(flags: number): number {
  const low = flags & LOW1MEG ? LOW1MEG : flags & LOW16MEG ? LOW16MEG : flags & LOW4GIG;
  const kind = low ? PHYSICAL | low : flags & PHYSICAL ? PHYSICAL : VIRTUAL;
  return kind | (flags & (CLEAR | PERSISTENT));
}

function limitOf(flags: number): number {
  return flags & LOW1MEG ? MiB : flags & LOW16MEG ? 16 * MiB : flags & LOW4GIG ? 2 ** 32 : Infinity;
}

interface Block {
  ptr: number;
  usable: number;
  flags: number;
  name: string;
  align: number;
  /** Bytes holding the pattern of `seed`. */
  content: number;
  seed: number;
}

interface Model {
  live: Block[];
  seeds: number;
  persistentUsed: boolean;
}

type Real = FlatBucketHeap;

/** Every live block still has its size, flags, name, alignment, limit and bytes. */
function verify(model: Model, { heap, memory }: Real): void {
  heap.check();
  for (const block of model.live) {
    expect(heap.heap_size(block.ptr)).toBe(block.usable);
    expect(heap.flagsOf(block.ptr)).toBe(block.flags);
    expect(heap.pebbleName(block.ptr)).toBe(block.name);
    expect(block.ptr % block.align).toBe(0);
    expect(block.ptr + block.usable).toBeLessThanOrEqual(limitOf(block.flags));
    expect(hasPattern(memory, block.ptr, block.content, block.seed)).toBe(true);
  }
  expect(heap.stats().liveBlocks).toBe(model.live.length);
}

function adopt(
  model: Model,
  real: Real,
  block: Omit<Block, "seed" | "usable" | "content">,
  size: number,
): void {
  const usable = real.heap.heap_size(block.ptr);
  expect(usable).toBeGreaterThanOrEqual(size);
  for (const other of model.live)
    expect(block.ptr + usable <= other.ptr || other.ptr + other.usable <= block.ptr).toBe(true);
  const seed = ++model.seeds;
  writePattern(real.memory, block.ptr, size, seed);
  model.live.push({ ...block, usable, content: size, seed });
  if (block.flags & PERSISTENT) model.persistentUsed = true;
}

class Kmalloc implements fc.Command<Model, Real> {
  constructor(
    readonly size: number,
    readonly align: number,
    readonly flags: number,
    readonly name: string,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const failed = real.source.stats().failedCalls;
    const ptr = real.heap.kmalloc(this.size, this.align, this.flags, this.name);
    if (ptr === 0) {
      expect(real.source.stats().failedCalls).toBeGreaterThan(failed);
    } else {
      const flags = expectedFlags(this.flags);
      if (flags & CLEAR)
        expect(real.memory.readBytes(ptr, real.heap.heap_size(ptr)).every((b) => b === 0)).toBe(
          true,
        );
      const align = this.align <= 64 ? 64 : nextPowerOfTwo(this.align);
      adopt(model, real, { ptr, flags, name: this.name, align }, this.size);
    }
    verify(model, real);
  }
  toString(): string {
    return `kmalloc(${this.size}, ${this.align}, 0x${this.flags.toString(16)}, ${JSON.stringify(this.name)})`;
  }
}

class Kfree implements fc.Command<Model, Real> {
  constructor(readonly pick: number) {}
  check(model: Readonly<Model>): boolean {
    return model.live.length > 0;
  }
  run(model: Model, real: Real): void {
    const [block] = model.live.splice(this.pick % model.live.length, 1);
    real.heap.kfree(block!.ptr);
    expect(real.heap.heap_size(block!.ptr)).toBe(0);
    verify(model, real);
  }
  toString(): string {
    return `kfree(live[${this.pick}])`;
  }
}

class Krealloc implements fc.Command<Model, Real> {
  constructor(
    readonly pick: number,
    readonly size: number,
    readonly flags: number | undefined,
    readonly name: string | undefined,
  ) {}
  check(model: Readonly<Model>): boolean {
    return model.live.length > 0;
  }
  run(model: Model, real: Real): void {
    const index = this.pick % model.live.length;
    const block = model.live[index]!;
    const result = real.heap.krealloc(block.ptr, this.size, this.flags, this.name);
    if (this.size === 0) {
      expect(result).toBe(0);
      model.live.splice(index, 1);
    } else if (result !== 0) {
      model.live.splice(index, 1);
      const preserved = Math.min(block.content, this.size);
      expect(hasPattern(real.memory, result, preserved, block.seed)).toBe(true);
      const flags = this.flags === undefined ? block.flags : expectedFlags(this.flags);
      adopt(
        model,
        real,
        { ptr: result, flags, name: this.name ?? block.name, align: block.align },
        this.size,
      );
    }
    // On failure (0 for a non-zero size) the old block must be untouched: verify() sees to it.
    verify(model, real);
  }
  toString(): string {
    return `krealloc(live[${this.pick}], ${this.size}, ${String(this.flags)}, ${JSON.stringify(this.name)})`;
  }
}

class BadRequest implements fc.Command<Model, Real> {
  constructor(
    readonly flags: number,
    readonly name: string,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const stats = real.heap.stats();
    let error: unknown;
    try {
      real.heap.kmalloc(64, 0, this.flags, this.name);
    } catch (thrown) {
      error = thrown;
    }
    expect(isAllocatorError(error) && error.code).toBe("EINVAL");
    expect(real.heap.stats()).toEqual(stats);
    verify(model, real);
  }
  toString(): string {
    return `kmalloc(64, 0, 0x${this.flags.toString(16)}, ${JSON.stringify(this.name)}) [EINVAL]`;
  }
}

const kindFlags = fc.constantFrom(
  0,
  VIRTUAL,
  PHYSICAL,
  LOW1MEG,
  LOW16MEG,
  LOW4GIG | PHYSICAL,
  LOW1MEG | LOW4GIG,
);
const requestFlags = fc
  .tuple(
    kindFlags,
    fc.boolean(),
    fc.nat({ max: 7 }).map((n) => n === 0),
  )
  .map(([kind, clear, persistent]) => kind | (clear ? CLEAR : 0) | (persistent ? PERSISTENT : 0));
const names = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 31,
});
const sizes = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 2000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 2000, max: 20 * KiB }) },
  { weight: 1, arbitrary: fc.integer({ min: 60 * KiB, max: 120 * KiB }) },
);
const aligns = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 5000 }) },
  { weight: 1, arbitrary: fc.constantFrom(4096, 65_536) },
);
const badRequests = fc.oneof(
  fc.tuple(
    fc.constantFrom(VIRTUAL | PHYSICAL, VIRTUAL | LOW1MEG, 0x80, 0x3ff, -2),
    fc.constant(""),
  ),
  fc.tuple(fc.constant(0), fc.constantFrom("x".repeat(32), "\u00e9t\u00e9", "\n")),
);

const commands = [
  fc.tuple(sizes, aligns, requestFlags, names).map(([s, a, f, n]) => new Kmalloc(s, a, f, n)),
  fc.nat({ max: 63 }).map((p) => new Kfree(p)),
  fc
    .tuple(
      fc.nat({ max: 63 }),
      fc.oneof(fc.constant(0), sizes),
      fc.option(requestFlags, { nil: undefined }),
      fc.option(names, { nil: undefined }),
    )
    .map(([p, s, f, n]) => new Krealloc(p, s, f, n)),
  badRequests.map(([f, n]) => new BadRequest(f, n)),
];

describe("kmalloc / kfree / krealloc against a model", () => {
  it("keeps flags, names, limits and contents, and gives all non-persistent buckets back", () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 40, max: 300 }), { nil: undefined }),
        fc.constantFrom<"first" | "best">("first", "best"),
        fc.commands(commands, { maxCommands: 50, size: "max" }),
        (pageLimit, fit, cmds) => {
          const real = flatBucketHeap({
            memoryBytes: 32 * MiB,
            fit,
            ...(pageLimit === undefined ? {} : { pageLimit }),
          });
          const model: Model = { live: [], seeds: 0, persistentUsed: false };
          fc.modelRun(() => ({ model, real }), cmds);
          for (const block of model.live) real.heap.kfree(block.ptr);
          real.heap.check();
          const stats = real.heap.stats();
          expect(stats).toMatchObject({ liveBlocks: 0, liveBytes: 0, requestedBytes: 0 });
          expect(stats.footprintBytes).toBe(real.source.stats().pagesInUse * 4096);
          expect(stats.extra!.buckets).toBe(stats.extra!.persistentBuckets);
          if (!model.persistentUsed) expect(real.source.stats().pagesInUse).toBe(17);
        },
      ),
      { numRuns: 150 },
    );
  });
});
