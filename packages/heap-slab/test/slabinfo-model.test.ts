import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SIZE_CLASSES } from "@allockit/heap-slab";
import type { SlabCache, SlabHeap, SlabInfoRow } from "@allockit/heap-slab";
import type { FlatMemory, FlatPageSource } from "@allockit/core";
import { flatHeap, hasPattern, writePattern } from "./helpers.js";

/** The caches of a run: on-slab, on-slab with constructor, off-slab one page, off-slab multi-page. */
const CACHE_SPECS = [
  { name: "tiny", size: 24, ctor: false },
  { name: "ctor", size: 120, ctor: true },
  { name: "kilo", size: 1024, ctor: false },
  { name: "big", size: 3000, ctor: false },
] as const;

interface LiveObject {
  readonly cache: number;
  readonly addr: number;
  readonly seed: number;
}

/** The model: live objects per cache (user caches and heap_alloc blocks by class or run). */
class Model {
  readonly live: LiveObject[] = [];
  readonly blocks: { addr: number; size: number; seed: number; row: string }[] = [];
  seed = 0;
  constructor(
    readonly heap: SlabHeap,
    readonly memory: FlatMemory,
    readonly source: FlatPageSource,
    readonly caches: SlabCache[],
    readonly keep: number,
  ) {}

  rowName(size: number): string {
    const cls = SIZE_CLASSES.find((c) => c >= size);
    return cls === undefined ? "page-runs" : `kmalloc-${cls}`;
  }

  /** slabinfo against the model, and the heap's pages against the PageSource. */
  verify(): void {
    const heap = this.heap;
    heap.check();
    const rows = new Map<string, SlabInfoRow>(heap.slabinfo().map((row) => [row.name, row]));
    const activeByRow = new Map<string, number>();
    for (const obj of this.live) {
      const name = CACHE_SPECS[obj.cache]!.name;
      activeByRow.set(name, (activeByRow.get(name) ?? 0) + 1);
    }
    for (const block of this.blocks)
      activeByRow.set(block.row, (activeByRow.get(block.row) ?? 0) + 1);
    let slabPages = 0;
    for (const row of rows.values()) {
      if (row.name === "slab-headers") continue;
      expect(row.activeObjs, row.name).toBe(activeByRow.get(row.name) ?? 0);
      if (row.kind === "page-runs") continue;
      expect(row.numObjs, row.name).toBe(row.numSlabs * row.objPerSlab);
      expect(row.activeSlabs, row.name).toBeGreaterThanOrEqual(
        Math.ceil(row.activeObjs / row.objPerSlab),
      );
      expect(row.activeSlabs, row.name).toBeLessThanOrEqual(row.activeObjs);
      expect(row.emptySlabs, row.name).toBeLessThanOrEqual(this.keep);
      expect(row.numSlabs - row.activeSlabs, row.name).toBe(row.emptySlabs);
      slabPages += row.numSlabs * row.pagesPerSlab;
    }
    const headers = rows.get("slab-headers")!;
    const offSlabSlabs = [...rows.values()]
      .filter((row) => row.offSlab && row.kind !== "page-runs")
      .reduce((sum, row) => sum + row.numSlabs, 0);
    expect(headers.activeObjs).toBe(offSlabSlabs);
    slabPages += headers.numSlabs * headers.pagesPerSlab;
    const runPages = this.blocks
      .filter((block) => block.row === "page-runs")
      .reduce((sum, block) => sum + Math.max(1, Math.ceil(block.size / 4096)), 0);
    const extra = heap.stats().extra!;
    expect(this.source.stats().pagesInUse).toBe(slabPages + runPages + extra.tablePages!);
    expect(heap.stats().footprintBytes).toBe(this.source.stats().pagesInUse * 4096);
  }
}

type Command = fc.Command<Model, Model>;

class CacheAlloc implements Command {
  constructor(readonly cache: number) {}
  check = (): boolean => true;
  run(model: Model): void {
    const cache = model.caches[this.cache]!;
    const addr = model.heap.cacheAlloc(cache);
    expect(addr).not.toBe(0);
    const seed = ++model.seed;
    writePattern(model.memory, addr, cache.objectSize, seed);
    model.live.push({ cache: this.cache, addr, seed });
    model.verify();
  }
  toString = (): string => `cacheAlloc(${CACHE_SPECS[this.cache]!.name})`;
}

class CacheFree implements Command {
  constructor(readonly pick: number) {}
  check = (model: Readonly<Model>): boolean => model.live.length > 0;
  run(model: Model): void {
    const [obj] = model.live.splice(this.pick % model.live.length, 1);
    const cache = model.caches[obj!.cache]!;
    expect(hasPattern(model.memory, obj!.addr, cache.objectSize, obj!.seed)).toBe(true);
    model.heap.cacheFree(cache, obj!.addr);
    model.verify();
  }
  toString = (): string => `cacheFree(live[${this.pick}])`;
}

class HeapAlloc implements Command {
  constructor(readonly size: number) {}
  check = (): boolean => true;
  run(model: Model): void {
    const addr = model.heap.heap_alloc(this.size);
    expect(addr).not.toBe(0);
    const seed = ++model.seed;
    writePattern(model.memory, addr, this.size, seed);
    model.blocks.push({ addr, size: this.size, seed, row: model.rowName(this.size) });
    model.verify();
  }
  toString = (): string => `heap_alloc(${this.size})`;
}

class HeapFree implements Command {
  constructor(readonly pick: number) {}
  check = (model: Readonly<Model>): boolean => model.blocks.length > 0;
  run(model: Model): void {
    const [block] = model.blocks.splice(this.pick % model.blocks.length, 1);
    expect(hasPattern(model.memory, block!.addr, block!.size, block!.seed)).toBe(true);
    model.heap.heap_free(block!.addr);
    model.verify();
  }
  toString = (): string => `heap_free(blocks[${this.pick}])`;
}

class Reap implements Command {
  check = (): boolean => true;
  run(model: Model): void {
    model.heap.reap();
    for (const row of model.heap.slabinfo()) expect(row.emptySlabs, row.name).toBe(0);
    model.verify();
  }
  toString = (): string => "reap()";
}

const commands = [
  fc.nat({ max: CACHE_SPECS.length - 1 }).map((c): Command => new CacheAlloc(c)),
  fc.nat({ max: 1000 }).map((p): Command => new CacheFree(p)),
  fc
    .oneof(fc.integer({ min: 0, max: 2048 }), fc.integer({ min: 2049, max: 9000 }))
    .map((s): Command => new HeapAlloc(s)),
  fc.nat({ max: 1000 }).map((p): Command => new HeapFree(p)),
  fc.constant<Command>(new Reap()),
];

describe("slabinfo against a model", () => {
  it("matches the live objects of every cache over random alloc / free / reap sequences", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.commands(commands, { maxCommands: 80, size: "max" }),
        (keep, colouring, sequence) => {
          const { heap, memory, source } = flatHeap({ keepEmptySlabs: keep, colouring });
          const caches = CACHE_SPECS.map((spec) =>
            heap.createCache(spec.name, spec.size, spec.ctor ? { ctor: () => undefined } : {}),
          );
          const model = new Model(heap, memory, source, caches, keep);
          fc.modelRun(() => ({ model, real: model }), sequence);
          // Free everything, reap: every page goes back.
          for (const obj of model.live) heap.cacheFree(caches[obj.cache]!, obj.addr);
          for (const block of model.blocks) heap.heap_free(block.addr);
          heap.reap();
          expect(source.stats().pagesInUse).toBe(0);
          heap.check();
        },
      ),
      { numRuns: 150 },
    );
  });
});
