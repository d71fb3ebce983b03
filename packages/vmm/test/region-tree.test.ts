import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { isAllocatorError, type AllocatorError } from "@allockit/core";
import { RegionTree, type RegionNode } from "../src/region-tree.js";

const PAGE = 4096;

/**
 * Property runs: `defaultRuns`, or ALLOCKIT_FUZZ_RUNS when that is larger (as fuzzRuns in
 * packages/core/test/helpers.ts: the variable raises run counts, it never lowers them).
 */
function fuzzRuns(defaultRuns = 200): number {
  const fromEnv = Number(process.env.ALLOCKIT_FUZZ_RUNS);
  return Number.isSafeInteger(fromEnv) && fromEnv > defaultRuns ? fromEnv : defaultRuns;
}

function thrown(fn: () => unknown): AllocatorError {
  try {
    fn();
  } catch (error) {
    if (isAllocatorError(error)) return error;
    throw error;
  }
  throw new Error("expected an AllocatorError, nothing was thrown");
}

function expectAllocatorError(fn: () => unknown, code: string, ...mentions: string[]): void {
  const error = thrown(fn);
  expect(error.code).toBe(code);
  for (const text of mentions) expect(error.message).toContain(text);
}

function contents<T>(tree: RegionTree<T>): Array<[number, number, T]> {
  return [...tree].map((n) => [n.start, n.end, n.value]);
}

/** Deterministic xorshift32 generator in [0, 1), so the big tests are reproducible. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** AVL bound: height < 1.4405 log2(n + 2) - 0.3277. */
function avlBound(n: number): number {
  return Math.floor(1.4405 * Math.log2(n + 2) - 0.3277);
}

// ---------------------------------------------------------------------------------------------
// Model: a sorted array, with a linear gap scan done in BigInt arithmetic.
// ---------------------------------------------------------------------------------------------

interface Entry {
  start: number;
  end: number;
  value: number;
}

class Model {
  entries: Entry[] = [];

  constructor(
    readonly low: number,
    readonly high: number,
  ) {}

  firstOverlap(start: number, end: number): Entry | undefined {
    if (start >= end) return undefined;
    return this.entries.find((e) => e.start < end && e.end > start);
  }

  overlapping(start: number, end: number): Entry[] {
    if (start >= end) return [];
    return this.entries.filter((e) => e.start < end && e.end > start);
  }

  find(addr: number): Entry | undefined {
    return this.entries.find((e) => e.start <= addr && addr < e.end);
  }

  insert(start: number, end: number, value: number): void {
    this.entries.push({ start, end, value });
    this.entries.sort((a, b) => a.start - b.start);
  }

  remove(start: number): number | undefined {
    const i = this.entries.findIndex((e) => e.start === start);
    if (i < 0) return undefined;
    return this.entries.splice(i, 1)[0].value;
  }

  index(start: number): number {
    return this.entries.findIndex((e) => e.start === start);
  }

  gapAfter(start: number): number {
    const i = this.index(start);
    const next = this.entries[i + 1];
    return (next === undefined ? this.high : next.start) - this.entries[i].end;
  }

  /** All gaps [from, to) in address order, including the two at the ends of the range. */
  gaps(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let cursor = this.low;
    for (const e of this.entries) {
      if (e.start > cursor) out.push([cursor, e.start]);
      cursor = e.end;
    }
    if (this.high > cursor) out.push([cursor, this.high]);
    return out;
  }

  findGap(size: number, align: number, topDown: boolean, from?: number, to?: number): number {
    const lo = BigInt(Math.max(this.low, from ?? this.low));
    const hi = BigInt(Math.min(this.high, to ?? this.high));
    const s = BigInt(size);
    const al = BigInt(align);
    let best = -1n;
    for (const [g0, g1] of this.gaps()) {
      const bottom = BigInt(g0) > lo ? BigInt(g0) : lo;
      const top = BigInt(g1) < hi ? BigInt(g1) : hi;
      if (top - bottom < s) continue;
      if (topDown) {
        const a = ((top - s) / al) * al;
        if (a >= bottom) best = a; // keep the last (highest) one
      } else {
        const a = ((bottom + al - 1n) / al) * al;
        if (a + s <= top) return Number(a);
      }
    }
    return Number(best);
  }
}

// ---------------------------------------------------------------------------------------------
// Plain behaviour
// ---------------------------------------------------------------------------------------------

describe("RegionTree basics", () => {
  function sample(): RegionTree<string> {
    const tree = new RegionTree<string>(0x1000, 0x100000);
    tree.insert(0x5000, 0x8000, "b");
    tree.insert(0x1000, 0x2000, "a");
    tree.insert(0x20000, 0x21000, "d");
    tree.insert(0x8000, 0x9000, "c");
    tree.check();
    return tree;
  }

  it("keeps intervals in address order and finds by address", () => {
    const tree = sample();
    expect(tree.size).toBe(4);
    expect(contents(tree)).toEqual([
      [0x1000, 0x2000, "a"],
      [0x5000, 0x8000, "b"],
      [0x8000, 0x9000, "c"],
      [0x20000, 0x21000, "d"],
    ]);
    expect(tree.find(0x5000)?.value).toBe("b");
    expect(tree.find(0x7fff)?.value).toBe("b");
    expect(tree.find(0x8000)?.value).toBe("c");
    expect(tree.find(0x2000)).toBeUndefined();
    expect(tree.find(0)).toBeUndefined();
    expect(tree.find(0x200000)).toBeUndefined();
    expect(tree.first()?.value).toBe("a");
    expect(tree.last()?.value).toBe("d");
  });

  it("walks neighbours with next and prev", () => {
    const tree = sample();
    const values: string[] = [];
    for (let n = tree.first(); n !== undefined; n = tree.next(n)) values.push(n.value);
    expect(values).toEqual(["a", "b", "c", "d"]);
    values.length = 0;
    for (let n = tree.last(); n !== undefined; n = tree.prev(n)) values.push(n.value);
    expect(values).toEqual(["d", "c", "b", "a"]);
  });

  it("answers overlap queries in address order", () => {
    const tree = sample();
    expect(tree.firstOverlap(0x1800, 0x5001)?.value).toBe("a");
    expect(tree.firstOverlap(0x2000, 0x5000)).toBeUndefined();
    expect(tree.firstOverlap(0x7000, 0x7000)).toBeUndefined();
    expect(tree.overlapping(0x1fff, 0x20001).map((n) => n.value)).toEqual(["a", "b", "c", "d"]);
    expect(tree.overlapping(0x9000, 0x20000)).toEqual([]);
  });

  it("measures the gap after a region, up to high for the last one", () => {
    const tree = sample();
    expect(tree.gapAfter(0x1000)).toBe(0x3000);
    expect(tree.gapAfter(0x5000)).toBe(0);
    expect(tree.gapAfter(0x20000)).toBe(0x100000 - 0x21000);
  });

  it("removes by exact start and hands the value back; node handles stay valid", () => {
    const tree = sample();
    const c = tree.find(0x8000) as RegionNode<string>;
    expect(tree.remove(0x5001)).toBeUndefined();
    expect(tree.remove(0x5000)).toBe("b");
    expect(tree.remove(0x5000)).toBeUndefined();
    tree.check();
    expect(tree.size).toBe(3);
    expect(tree.find(0x8000)).toBe(c);
    c.value = "c2";
    expect(contents(tree).map((e) => e[2])).toEqual(["a", "c2", "d"]);
    // Removing a node with two children moves its successor node itself, not a copy.
    const big = new RegionTree<number>(0, 1 << 20);
    const handles = Array.from({ length: 31 }, (_, i) => big.insert(i * PAGE, i * PAGE + 1, i));
    const root = 15 * PAGE;
    expect(big.remove(root)).toBe(15);
    big.check();
    for (const h of handles) if (h.start !== root) expect(big.find(h.start)).toBe(h);
  });

  it("resizes in place, growing into free space and shrinking", () => {
    const tree = sample();
    tree.resize(0x1000, 0x5000);
    tree.check();
    expect(tree.gapAfter(0x1000)).toBe(0);
    tree.resize(0x1000, 0x1001);
    tree.check();
    expect(tree.gapAfter(0x1000)).toBe(0x5000 - 0x1001);
    expect(tree.findGap(0x3000, PAGE, false)).toBe(0x2000);
    tree.resize(0x20000, 0x100000);
    tree.check();
    expect(tree.gapAfter(0x20000)).toBe(0);
  });

  it("finds gaps bottom-up and top-down, honouring alignment and the from/to window", () => {
    const tree = sample();
    // Gaps: [0x2000,0x5000) [0x9000,0x20000) [0x21000,0x100000).
    expect(tree.findGap(0x3000, PAGE, false)).toBe(0x2000);
    expect(tree.findGap(0x3001, PAGE, false)).toBe(0x9000);
    expect(tree.findGap(0x1000, 0x10000, false)).toBe(0x10000);
    expect(tree.findGap(0x1000, PAGE, true)).toBe(0xff000);
    expect(tree.findGap(0x1000, PAGE, true, 0, 0x21000)).toBe(0x1f000);
    expect(tree.findGap(0x3000, PAGE, true, 0, 0x9000)).toBe(0x2000);
    expect(tree.findGap(0x1000, PAGE, false, 0x2800)).toBe(0x3000);
    expect(tree.findGap(0x1000, 1, false, 0x2800)).toBe(0x2800);
    expect(tree.findGap(0x1000, 1, true, 0, 0x4800)).toBe(0x3800);
    expect(tree.findGap(0x3000, PAGE, false, 0x2800, 0x9000)).toBe(-1);
    expect(tree.findGap(0x100000, 1, false)).toBe(-1);
    expect(tree.findGap(1, 1, false, 0x5000, 0x9000)).toBe(-1);
    expect(tree.findGap(1, 1, false, 0x9000, 0x5000)).toBe(-1);
    const empty = new RegionTree<number>(3, 100);
    expect(empty.findGap(10, 8, false)).toBe(8);
    expect(empty.findGap(10, 8, true)).toBe(88);
    expect(empty.findGap(97, 1, true)).toBe(3);
    expect(empty.findGap(98, 1, true)).toBe(-1);
  });

  it("clears", () => {
    const tree = sample();
    tree.clear();
    tree.check();
    expect(tree.size).toBe(0);
    expect(tree.height()).toBe(0);
    expect(tree.first()).toBeUndefined();
    expect(tree.findGap(0x1000, PAGE, false)).toBe(0x1000);
  });
});

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

describe("RegionTree bad input", () => {
  function sample(): RegionTree<string> {
    const tree = new RegionTree<string>(0x1000, 0x100000);
    for (const [s, e] of [
      [0x4000, 0x6000],
      [0x8000, 0x9000],
      [0x10000, 0x14000],
    ]) {
      tree.insert(s, e, `${s}`);
    }
    return tree;
  }

  it("rejects a bad managed range", () => {
    for (const [low, high] of [
      [-1, 10],
      [10, 10],
      [10, 5],
      [0, 1.5],
      [NaN, 5],
      [0, Infinity],
      [0, 2 ** 53 + 2],
    ]) {
      expect(thrown(() => new RegionTree(low, high)).code).toBe("EINVAL");
    }
  });

  it("rejects empty, reversed, fractional and out-of-range inserts with EINVAL", () => {
    const tree = sample();
    const before = contents(tree);
    for (const [s, e] of [
      [0x2000, 0x2000],
      [0x3000, 0x2000],
      [0x2000 + 0.5, 0x3000],
      [NaN, 0x3000],
      [0x2000, Infinity],
      [0, 0x2000],
      [0xff000, 0x101000],
      [-0x1000, 0x2000],
    ]) {
      expect(thrown(() => tree.insert(s, e, "x")).code).toBe("EINVAL");
    }
    tree.check();
    expect(contents(tree)).toEqual(before);
  });

  it("rejects an overlapping insert with EFAULT naming both ranges, and changes nothing", () => {
    const tree = sample();
    const before = contents(tree);
    const height = tree.height();
    expectAllocatorError(
      () => tree.insert(0x5000, 0x8800, "x"),
      "EFAULT",
      "[0x5000, 0x8800)",
      "[0x4000, 0x6000)",
    );
    expectAllocatorError(() => tree.insert(0x4000, 0x4001, "x"), "EFAULT", "[0x4000, 0x6000)");
    expectAllocatorError(() => tree.insert(0x2000, 0x20000, "x"), "EFAULT", "[0x4000, 0x6000)");
    expectAllocatorError(() => tree.insert(0x13fff, 0x15000, "x"), "EFAULT", "[0x10000, 0x14000)");
    tree.check();
    expect(tree.size).toBe(3);
    expect(tree.height()).toBe(height);
    expect(contents(tree)).toEqual(before);
    // Touching neighbours is not an overlap.
    tree.insert(0x6000, 0x8000, "between");
    tree.check();
  });

  it("rejects bad resizes and leaves the region alone", () => {
    const tree = sample();
    const before = contents(tree);
    expectAllocatorError(() => tree.resize(0x4001, 0x5000), "EFAULT", "0x4001");
    expectAllocatorError(() => tree.resize(0x4000, 0x4000), "EINVAL", "[0x4000, 0x6000)");
    expectAllocatorError(() => tree.resize(0x4000, 0x3000), "EINVAL");
    expectAllocatorError(() => tree.resize(0x4000, 0x4800 + 0.5), "EINVAL");
    expectAllocatorError(() => tree.resize(0x10000, 0x100001), "EINVAL");
    expectAllocatorError(
      () => tree.resize(0x4000, 0x8001),
      "EFAULT",
      "[0x4000, 0x8001)",
      "[0x8000, 0x9000)",
    );
    tree.check();
    expect(contents(tree)).toEqual(before);
    tree.resize(0x4000, 0x8000); // exactly up to the neighbour is fine
    tree.check();
  });

  it("rejects bad gap requests and lookups", () => {
    const tree = sample();
    for (const size of [0, -PAGE, 1.5, NaN]) {
      expect(thrown(() => tree.findGap(size, PAGE, false)).code).toBe("EINVAL");
    }
    for (const align of [0, -1, 0.5, Infinity]) {
      expect(thrown(() => tree.findGap(PAGE, align, false)).code).toBe("EINVAL");
    }
    expect(thrown(() => tree.findGap(PAGE, PAGE, false, NaN)).code).toBe("EINVAL");
    expect(thrown(() => tree.findGap(PAGE, PAGE, true, 0, 1.5)).code).toBe("EINVAL");
    expect(thrown(() => tree.find(NaN)).code).toBe("EINVAL");
    expect(thrown(() => tree.firstOverlap(0, 0.5)).code).toBe("EINVAL");
    expect(thrown(() => tree.overlapping(NaN, 5)).code).toBe("EINVAL");
    expectAllocatorError(() => tree.gapAfter(0x5000), "EFAULT", "0x5000");
    expect(tree.remove(NaN)).toBeUndefined();
    tree.check();
  });

  it("check() reports corrupted fields with ECORRUPT", () => {
    type Internals = {
      root: { maxGap: number; height: number; minStart: number; left: unknown };
      count: number;
    };
    const corruptions: Array<[string, (t: Internals, tree: RegionTree<string>) => void]> = [
      ["maxGap", (t) => (t.root.maxGap += 1)],
      ["height", (t) => (t.root.height += 1)],
      ["minStart", (t) => (t.root.minStart -= 1)],
      ["size", (t) => (t.count += 1)],
      ["starts below", (_t, tree) => ((tree.last() as { start: number }).start = 0x8800)],
      ["deeper", (t) => (t.root.left = t.root)],
    ];
    for (const [what, corrupt] of corruptions) {
      const tree = sample();
      tree.check();
      corrupt(tree as unknown as Internals, tree);
      expectAllocatorError(() => tree.check(), "ECORRUPT", what);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Model-based property test
// ---------------------------------------------------------------------------------------------

/** Managed span of the model runs: 64 pages, small so that collisions and gaps happen. */
const SPAN = 64 * PAGE;

type Step =
  | { kind: "insert"; at: number; length: number }
  | { kind: "insertGap"; size: number; align: number; topDown: boolean }
  | { kind: "remove"; pick: number; exact: boolean; at: number }
  | { kind: "resize"; pick: number; length: number }
  | {
      kind: "findGap";
      size: number;
      align: number;
      topDown: boolean;
      from: number | undefined;
      to: number | undefined;
    }
  | { kind: "query"; at: number; length: number; pick: number };

/** Offsets from the tree's low: mostly page-aligned, some arbitrary, a few just outside. */
const offsetArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: SPAN / PAGE }).map((p) => p * PAGE) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: SPAN }) },
  { weight: 1, arbitrary: fc.integer({ min: -2 * PAGE, max: SPAN + 2 * PAGE }) },
);
const lengthArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 8 }).map((p) => p * PAGE) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 * PAGE }) },
  { weight: 1, arbitrary: fc.integer({ min: -PAGE, max: 0 }) },
);
const sizeArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 16 }).map((p) => p * PAGE) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 5 * PAGE }) },
);
const alignArb = fc.constantFrom(1, PAGE, 16 * PAGE);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      at: offsetArb,
      length: lengthArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("insertGap" as const),
      size: sizeArb,
      align: alignArb,
      topDown: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("remove" as const),
      pick: fc.nat(),
      exact: fc.boolean(),
      at: offsetArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("resize" as const),
      pick: fc.nat(),
      length: lengthArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("findGap" as const),
      size: sizeArb,
      align: alignArb,
      topDown: fc.boolean(),
      from: fc.option(offsetArb, { nil: undefined }),
      to: fc.option(offsetArb, { nil: undefined }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("query" as const),
      at: offsetArb,
      length: lengthArb,
      pick: fc.nat(),
    }),
  },
);

/** Checks a findGap answer against the model and, independently, that it is a valid fit. */
function checkGap(
  tree: RegionTree<number>,
  model: Model,
  size: number,
  align: number,
  topDown: boolean,
  from?: number,
  to?: number,
): number {
  const got = tree.findGap(size, align, topDown, from, to);
  expect(got).toBe(model.findGap(size, align, topDown, from, to));
  if (got >= 0) {
    expect(got % align).toBe(0);
    expect(got).toBeGreaterThanOrEqual(Math.max(tree.low, from ?? tree.low));
    expect(got + size).toBeLessThanOrEqual(Math.min(tree.high, to ?? tree.high));
    expect(model.firstOverlap(got, got + size)).toBeUndefined();
  }
  return got;
}

function runSteps(base: number, steps: Step[]): void {
  const tree = new RegionTree<number>(base, base + SPAN);
  const model = new Model(base, base + SPAN);
  let counter = 0;
  const picked = (pick: number): Entry | undefined =>
    model.entries.length === 0 ? undefined : model.entries[pick % model.entries.length];

  for (const step of steps) {
    const value = counter++;
    switch (step.kind) {
      case "insert": {
        const start = base + step.at;
        const end = start + step.length;
        if (step.length <= 0 || start < base || end > base + SPAN) {
          expect(thrown(() => tree.insert(start, end, value)).code).toBe("EINVAL");
        } else if (model.firstOverlap(start, end) !== undefined) {
          const clash = model.firstOverlap(start, end) as Entry;
          expectAllocatorError(
            () => tree.insert(start, end, value),
            "EFAULT",
            `0x${clash.start.toString(16)}`,
          );
        } else {
          const node = tree.insert(start, end, value);
          expect([node.start, node.end, node.value]).toEqual([start, end, value]);
          model.insert(start, end, value);
        }
        break;
      }
      case "insertGap": {
        const at = checkGap(tree, model, step.size, step.align, step.topDown);
        if (at >= 0) {
          tree.insert(at, at + step.size, value);
          model.insert(at, at + step.size, value);
        }
        break;
      }
      case "remove": {
        const start = step.exact ? (picked(step.pick)?.start ?? base) : base + step.at;
        expect(tree.remove(start)).toBe(model.remove(start));
        break;
      }
      case "resize": {
        const entry = picked(step.pick);
        if (entry === undefined) {
          expect(thrown(() => tree.resize(base, base + PAGE)).code).toBe("EFAULT");
          break;
        }
        const newEnd = entry.start + step.length;
        const next = model.entries[model.index(entry.start) + 1];
        if (step.length <= 0 || newEnd > base + SPAN) {
          expect(thrown(() => tree.resize(entry.start, newEnd)).code).toBe("EINVAL");
        } else if (next !== undefined && newEnd > next.start) {
          expect(thrown(() => tree.resize(entry.start, newEnd)).code).toBe("EFAULT");
        } else {
          tree.resize(entry.start, newEnd);
          entry.end = newEnd;
        }
        break;
      }
      case "findGap": {
        const from = step.from === undefined ? undefined : base + step.from;
        const to = step.to === undefined ? undefined : base + step.to;
        checkGap(tree, model, step.size, step.align, step.topDown, from, to);
        break;
      }
      case "query": {
        const at = base + step.at;
        const end = at + step.length;
        expect(tree.find(at)?.value).toBe(model.find(at)?.value);
        expect(tree.firstOverlap(at, end)?.value).toBe(model.firstOverlap(at, end)?.value);
        expect(tree.overlapping(at, end).map((n) => n.value)).toEqual(
          model.overlapping(at, end).map((e) => e.value),
        );
        const entry = picked(step.pick);
        if (entry !== undefined) {
          const i = model.index(entry.start);
          const node = tree.find(entry.start) as RegionNode<number>;
          expect(node.value).toBe(entry.value);
          expect(tree.gapAfter(entry.start)).toBe(model.gapAfter(entry.start));
          expect(tree.next(node)?.value).toBe(model.entries[i + 1]?.value);
          expect(tree.prev(node)?.value).toBe(model.entries[i - 1]?.value);
        }
        expect(tree.first()?.value).toBe(model.entries[0]?.value);
        expect(tree.last()?.value).toBe(model.entries.at(-1)?.value);
        break;
      }
    }
    tree.check();
    expect(tree.size).toBe(model.entries.length);
    expect(contents(tree)).toEqual(model.entries.map((e) => [e.start, e.end, e.value]));
  }
}

describe("RegionTree against a sorted-array model (fast-check)", () => {
  const bases: Array<[string, number]> = [
    ["a small range at 0", 0],
    ["a small range with an unaligned low", 0x12345],
    ["a small range ending at 2^48", 2 ** 48 - SPAN],
  ];
  it.each(bases)("random insert / remove / resize / findGap sequences in %s", (_name, base) => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => runSteps(base, steps)),
      { numRuns: fuzzRuns() },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Work and height bounds
// ---------------------------------------------------------------------------------------------

describe("RegionTree complexity (counted, not timed)", () => {
  const N = 100_000;

  it("a gap search among 100 000 regions visits fewer than 200 nodes", () => {
    // Regions [2iP, 2iP + P): every gap is one page; removing region i opens a 3-page hole.
    const tree = new RegionTree<number>(0, 2 * N * PAGE);
    for (let i = 0; i < N; i++) tree.insert(2 * i * PAGE, (2 * i + 1) * PAGE, i);
    tree.check();
    const random = rng(0x5eed);
    const holes = new Set<number>();
    while (holes.size < 40) {
      // Keep holes apart: two adjacent removals would merge into one 5-page hole.
      const i = 1 + Math.floor(random() * (N - 2));
      if (!holes.has(i - 1) && !holes.has(i + 1)) holes.add(i);
    }
    for (const i of holes) expect(tree.remove(2 * i * PAGE)).toBe(i);
    tree.check();
    const sorted = [...holes].sort((a, b) => a - b);
    const holeStart = (i: number) => (2 * i - 1) * PAGE;

    const searches: Array<[string, () => number, number]> = [
      ["lowest 3-page gap", () => tree.findGap(3 * PAGE, PAGE, false), holeStart(sorted[0])],
      ["highest 3-page gap", () => tree.findGap(3 * PAGE, PAGE, true), holeStart(sorted.at(-1)!)],
      ["lowest 2-page gap", () => tree.findGap(2 * PAGE, PAGE, false), holeStart(sorted[0])],
      [
        "highest 2-page gap",
        () => tree.findGap(2 * PAGE, PAGE, true),
        holeStart(sorted.at(-1)!) + PAGE,
      ],
      ["lowest 1-page gap", () => tree.findGap(PAGE, PAGE, false), PAGE],
      ["highest 1-page gap", () => tree.findGap(PAGE, PAGE, true), (2 * N - 1) * PAGE],
      ["4-page gap (none)", () => tree.findGap(4 * PAGE, PAGE, false), -1],
      [
        "3-page gap above the 20th hole",
        () => tree.findGap(3 * PAGE, PAGE, false, holeStart(sorted[20])),
        holeStart(sorted[20]),
      ],
      [
        "3-page gap below the 20th hole",
        () => tree.findGap(3 * PAGE, PAGE, true, 0, holeStart(sorted[20])),
        holeStart(sorted[19]),
      ],
      [
        "3-page gap in a window between holes",
        () =>
          tree.findGap(3 * PAGE, PAGE, false, holeStart(sorted[5]) + PAGE, holeStart(sorted[6])),
        -1,
      ],
    ];
    for (const [what, search, expected] of searches) {
      expect(search(), what).toBe(expected);
      expect(tree.lastVisits, what).toBeLessThan(200);
    }

    // The same with random sizes, checked against a linear scan of the regions.
    const model = new Model(0, 2 * N * PAGE);
    model.entries = [...tree].map((n) => ({ start: n.start, end: n.end, value: n.value }));
    let worst = 0;
    for (let k = 0; k < 200; k++) {
      const size = (1 + Math.floor(random() * 4)) * PAGE;
      const topDown = random() < 0.5;
      const from = Math.floor(random() * N) * 2 * PAGE;
      const to = from + Math.floor(random() * N) * 2 * PAGE;
      expect(tree.findGap(size, PAGE, topDown, from, to)).toBe(
        model.findGap(size, PAGE, topDown, from, to),
      );
      worst = Math.max(worst, tree.lastVisits);
    }
    expect(worst).toBeLessThan(200);
  });

  it("stays AVL-balanced after 100 000 sequential inserts and random removals", () => {
    const tree = new RegionTree<number>(0, N * PAGE);
    for (let i = 0; i < N; i++) tree.insert(i * PAGE, (i + 1) * PAGE, i);
    tree.check();
    expect(tree.height()).toBeLessThanOrEqual(avlBound(N));
    expect(tree.findGap(PAGE, PAGE, false)).toBe(-1);
    expect(tree.lastVisits).toBe(1);

    const random = rng(42);
    const order = Array.from({ length: N }, (_, i) => i);
    for (let i = N - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let k = 0; k < N; k++) {
      expect(tree.remove(order[k] * PAGE)).toBe(order[k]);
      if (k % 10_000 === 0 || k === (9 * N) / 10) {
        tree.check();
        expect(tree.height()).toBeLessThanOrEqual(avlBound(tree.size));
      }
    }
    expect(tree.size).toBe(0);
    tree.check();
  });

  it("stays AVL-balanced under random-order inserts", () => {
    const tree = new RegionTree<number>(0, N * PAGE);
    const random = rng(7);
    const order = Array.from({ length: N }, (_, i) => i);
    for (let i = N - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const i of order) tree.insert(i * PAGE, i * PAGE + 1 + (i % PAGE), i);
    tree.check();
    expect(tree.height()).toBeLessThanOrEqual(avlBound(N));
    expect([...tree].map((n) => n.value)).toEqual(Array.from({ length: N }, (_, i) => i));
  });
});
