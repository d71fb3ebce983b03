import { describe, expect, it } from "vitest";
import type { Memory } from "@allockit/core";
import { expectError, flatHeap, hasPattern, writePattern } from "./helpers.js";

const CONSTRUCTED = 0xab;

describe("object caches with constructor and destructor", () => {
  it("constructs every object of a new slab once, and keeps that state across free and alloc", () => {
    const { heap, memory } = flatHeap();
    const built: number[] = [];
    const cache = heap.createCache("widget", 40, {
      ctor: (mem: Memory, addr: number) => {
        built.push(addr);
        mem.fill(addr, CONSTRUCTED, 40);
      },
    });
    const perSlab = cache.geometry.objectsPerSlab;
    const a = heap.cacheAlloc(cache);
    expect(built.length).toBe(perSlab);
    expect(new Set(built).size).toBe(perSlab);
    expect(built).toContain(a);
    // Constructed state: all 40 bytes, also after a free and the next alloc of the same object.
    expect(memory.readBytes(a, 40).every((b) => b === CONSTRUCTED)).toBe(true);
    const b = heap.cacheAlloc(cache);
    heap.cacheFree(cache, a);
    expect(memory.readBytes(a, 40).every((x) => x === CONSTRUCTED)).toBe(true);
    const again = heap.cacheAlloc(cache);
    expect(again).toBe(a);
    expect(memory.readBytes(again, 40).every((x) => x === CONSTRUCTED)).toBe(true);
    expect(built.length).toBe(perSlab);
    expect(cache.statistics.ctorCalls).toBe(perSlab);
    heap.cacheFree(cache, again);
    heap.cacheFree(cache, b);
    heap.check();
  });

  it("runs the destructor over every object when the slab is reaped, not on free", () => {
    const { heap, source } = flatHeap({ keepEmptySlabs: 1 });
    const destroyed: number[] = [];
    const built: number[] = [];
    const cache = heap.createCache("conn", 100, {
      ctor: (_mem: Memory, addr: number) => void built.push(addr),
      dtor: (_mem: Memory, addr: number) => void destroyed.push(addr),
    });
    const objects = Array.from({ length: 5 }, () => heap.cacheAlloc(cache));
    for (const obj of objects) heap.cacheFree(cache, obj);
    expect(destroyed).toEqual([]);
    expect(cache.emptySlabs).toBe(1);
    const pagesBefore = source.stats().pagesInUse;
    expect(heap.reap()).toBeGreaterThanOrEqual(1);
    expect(source.stats().pagesInUse).toBeLessThan(pagesBefore);
    expect([...destroyed].sort((x, y) => x - y)).toEqual([...built].sort((x, y) => x - y));
    expect(cache.statistics.dtorCalls).toBe(cache.geometry.objectsPerSlab);
    expect(cache.statistics.slabsReaped).toBe(1);
    heap.check();
  });

  it("undoes a slab whose constructor throws: destructor over the built objects, pages back", () => {
    const { heap, source } = flatHeap({ keepEmptySlabs: 0 });
    let calls = 0;
    const destroyed: number[] = [];
    const cache = heap.createCache("fragile", 64, {
      ctor: () => {
        if (++calls === 3) throw new Error("ctor failed");
      },
      dtor: (_mem: Memory, addr: number) => void destroyed.push(addr),
    });
    expect(() => heap.cacheAlloc(cache)).toThrow("ctor failed");
    expect(destroyed.length).toBe(2);
    expect(cache.slabs).toBe(0);
    expect(source.stats().pagesInUse).toBe(0);
    heap.check();
    // The next slab constructs fine.
    const obj = heap.cacheAlloc(cache);
    expect(obj).not.toBe(0);
    heap.cacheFree(cache, obj);
    expect(source.stats().pagesInUse).toBe(0);
  });

  it("still releases a slab whose destructor throws, and lets the error through", () => {
    const { heap, source } = flatHeap({ keepEmptySlabs: 1 });
    let calls = 0;
    const cache = heap.createCache("grumpy", 256, {
      dtor: () => {
        if (++calls === 2) throw new Error("dtor failed");
      },
    });
    heap.cacheFree(cache, heap.cacheAlloc(cache));
    expect(cache.emptySlabs).toBe(1);
    expect(() => heap.reap()).toThrow("dtor failed");
    expect(cache.slabs).toBe(0);
    expect(source.stats().pagesInUse).toBe(0);
    heap.check();
  });

  it("stays consistent when a destructor throws during a reap under memory pressure", () => {
    const { heap } = flatHeap({ keepEmptySlabs: 8, pageLimit: 12 });
    const grumpy = heap.createCache("grumpy", 1000, {
      dtor: () => {
        throw new Error("dtor failed");
      },
    });
    const objects = Array.from({ length: 24 }, () => heap.cacheAlloc(grumpy));
    for (const obj of objects) heap.cacheFree(grumpy, obj);
    expect(grumpy.emptySlabs).toBe(6);
    const big = heap.createCache("big", 3000);
    let thrown = 0;
    for (let i = 0; i < 20; i++) {
      try {
        if (heap.cacheAlloc(big) === 0) break;
      } catch (error) {
        expect(String(error)).toMatch(/dtor failed/);
        thrown++;
      }
      heap.check();
    }
    expect(thrown).toBeGreaterThan(0);
    heap.check();
  });

  it("refuses re-entry from a constructor", () => {
    const { heap } = flatHeap({ keepEmptySlabs: 0 });
    const cache = heap.createCache("reentrant", 32, {
      ctor: () => void heap.heap_alloc(16),
    });
    expectError(() => heap.cacheAlloc(cache), "EINVAL", /constructor or destructor/);
    expect(cache.slabs).toBe(0);
    heap.check();
  });
});

describe("slab colouring", () => {
  /** Offsets in the page of the first object of `slabs` successive slabs. */
  function firstOffsets(colouring: boolean, slabs: number): number[] {
    const { heap } = flatHeap({ colouring });
    const cache = heap.createCache("coloured", 200, { align: 16 });
    const offsets: number[] = [];
    for (let s = 0; s < slabs; s++) {
      for (let i = 0; i < cache.geometry.objectsPerSlab; i++) {
        const obj = heap.cacheAlloc(cache);
        if (i === 0) offsets.push(obj % 4096);
      }
    }
    heap.check();
    return offsets;
  }

  it("starts successive slabs at colour offsets 0, align, 2 * align ... up to the slack, wrapping", () => {
    const { heap } = flatHeap();
    const g = heap.createCache("probe", 200, { align: 16 }).geometry;
    expect(g.colours).toBe(Math.floor(g.slackBytes / 16) + 1);
    expect(g.colours).toBeGreaterThan(2);
    const offsets = firstOffsets(true, g.colours + 2);
    const expected = Array.from({ length: g.colours + 2 }, (_, i) => (i % g.colours) * 16);
    expect(offsets).toEqual(expected);
    expect(offsets[1]).not.toBe(offsets[0]);
  });

  it("puts every first object at offset 0 with colouring off", () => {
    expect(firstOffsets(false, 4)).toEqual([0, 0, 0, 0]);
  });
});

describe("off-slab caches for large objects", () => {
  it("lays out 1024- and 3000-byte caches with headers outside the slab", () => {
    const { heap } = flatHeap();
    const kilo = heap.createCache("kilo", 1024).geometry;
    expect(kilo).toMatchObject({
      offSlab: true,
      pagesPerSlab: 1,
      objectsPerSlab: 4,
      slackBytes: 0,
    });
    const big = heap.createCache("big", 3000).geometry;
    // One page would waste 27%, three pages hold four objects and waste 288 bytes.
    expect(big).toMatchObject({
      offSlab: true,
      pagesPerSlab: 3,
      objectsPerSlab: 4,
      slackBytes: 288,
    });
    expect(big.colours).toBe(288 / 8 + 1);
  });

  it("hands out every byte of the slab to objects and never writes into a freed object", () => {
    const { heap, memory, source } = flatHeap({ keepEmptySlabs: 0 });
    const cache = heap.createCache("big", 3000);
    const objects = Array.from({ length: 9 }, () => heap.cacheAlloc(cache));
    objects.forEach((obj, i) => writePattern(memory, obj, 3000, i));
    heap.check();
    expect(cache.slabs).toBe(3);
    // Free a few: their bytes stay as they were (the free list is in the bufctls).
    for (const i of [0, 4, 5]) heap.cacheFree(cache, objects[i]!);
    objects.forEach((obj, i) => expect(hasPattern(memory, obj, 3000, i)).toBe(true));
    heap.check();
    for (const i of [1, 2, 3, 6, 7, 8]) heap.cacheFree(cache, objects[i]!);
    expect(cache.slabs).toBe(0);
    expect(heap.findCache("slab-headers")!.activeObjects).toBe(0);
    expect(source.stats().pagesInUse).toBe(0);
  });

  it("serves objects up to 128 KiB from multi-page slabs", () => {
    const { heap } = flatHeap();
    const huge = heap.createCache("huge", 128 * 1024);
    expect(huge.geometry).toMatchObject({ pagesPerSlab: 32, objectsPerSlab: 1 });
    const obj = heap.cacheAlloc(huge);
    expect(obj % 4096).toBe(0);
    heap.cacheFree(huge, obj);
    heap.check();
  });
});

describe("destroyCache", () => {
  it("refuses while objects are live, naming the cache and the count", () => {
    const { heap } = flatHeap();
    const cache = heap.createCache("busy", 24);
    const a = heap.cacheAlloc(cache);
    heap.cacheAlloc(cache);
    expectError(() => heap.destroyCache(cache), "EINVAL", /"busy" still has 2 live/);
    heap.cacheFree(cache, a);
    heap.check();
  });

  it("releases every slab with the destructor, then forgets the cache and its name", () => {
    const { heap, source } = flatHeap({ keepEmptySlabs: 4 });
    let dtors = 0;
    const cache = heap.createCache("gone", 500, { dtor: () => void dtors++ });
    const objs = Array.from({ length: 20 }, () => heap.cacheAlloc(cache));
    for (const obj of objs) heap.cacheFree(cache, obj);
    const slabs = cache.slabs;
    expect(slabs).toBeGreaterThan(0);
    heap.destroyCache(cache);
    expect(dtors).toBe(slabs * cache.geometry.objectsPerSlab);
    expect(cache.destroyed).toBe(true);
    expect(heap.findCache("gone")).toBeUndefined();
    expect(source.stats().pagesInUse).toBe(heap.stats().footprintBytes / 4096);
    expectError(() => heap.cacheAlloc(cache), "EINVAL", /not a live cache/);
    const again = heap.createCache("gone", 16);
    expect(heap.cacheAlloc(again)).not.toBe(0);
    heap.check();
  });

  it("refuses to destroy a built-in cache", () => {
    const { heap } = flatHeap();
    expectError(() => heap.destroyCache(heap.findCache("kmalloc-64")!), "EINVAL", /built-in/);
    expectError(() => heap.destroyCache(heap.findCache("slab-headers")!), "EINVAL", /built-in/);
  });
});

describe("cacheFree and heap_free keep caches apart", () => {
  it("rejects foreign, interior, freed and other caches' pointers, changing nothing", () => {
    const { heap, memory } = flatHeap();
    const red = heap.createCache("red", 48);
    const blue = heap.createCache("blue", 48);
    const r = heap.cacheAlloc(red);
    const r2 = heap.cacheAlloc(red);
    const b = heap.cacheAlloc(blue);
    const k = heap.heap_alloc(60);
    writePattern(memory, r, 48, 1);
    writePattern(memory, b, 48, 2);
    heap.cacheFree(red, r2);
    expectError(() => heap.cacheFree(red, b), "EFAULT", /cache "blue"/);
    expectError(() => heap.cacheFree(red, r + 8), "EFAULT", /8 bytes into object/);
    expectError(() => heap.cacheFree(red, r2), "EDOUBLEFREE", /free object of cache "red"/);
    expectError(() => heap.cacheFree(red, 2 ** 40), "EFAULT", /not in this heap/);
    expectError(() => heap.cacheFree(red, k), "EFAULT", /kmalloc-64/);
    expectError(() => heap.cacheFree(red, -1), "EINVAL", /-1/);
    expectError(() => heap.heap_free(r), "EFAULT", /free it with cacheFree/);
    expect(heap.heap_size(r)).toBe(0);
    expect(heap.heap_size(k)).toBe(64);
    heap.cacheFree(red, 0);
    heap.check();
    expect(hasPattern(memory, r, 48, 1)).toBe(true);
    expect(hasPattern(memory, b, 48, 2)).toBe(true);
    expect(red.activeObjects).toBe(1);
  });

  it("rejects off-slab headers (heap metadata) given to heap_free", () => {
    const { heap } = flatHeap();
    heap.heap_alloc(1024);
    const headers = heap.findCache("slab-headers")!;
    expect(headers.activeObjects).toBe(1);
    const slabinfo = heap.slabinfo().find((row) => row.name === "slab-headers")!;
    expect(slabinfo.activeObjs).toBe(1);
    // Probe the first object of every page: exactly one is an off-slab header.
    const metadata: number[] = [];
    for (let page = 4096; page < 64 * 4096; page += 4096) {
      if (heap.heap_size(page) !== 0) continue;
      try {
        heap.heap_free(page);
      } catch (error) {
        if (/slab metadata/.test(String(error))) metadata.push(page);
      }
    }
    expect(metadata).toHaveLength(1);
    expect(headers.activeObjects).toBe(1);
    heap.check();
  });
});

describe("createCache validation", () => {
  it.each([
    ["", 8, {}, /name ""/],
    ["has space", 8, {}, /name "has space"/],
    ["x".repeat(33), 8, {}, /name/],
    ["kmalloc-64", 8, {}, /exists/],
    ["ok", 0, {}, /object size 0/],
    ["ok", 1.5, {}, /object size 1.5/],
    ["ok", 128 * 1024 + 1, {}, /object size 131073/],
    ["ok", 8, { align: 3 }, /alignment 3/],
    ["ok", 8, { align: 8192 }, /alignment 8192/],
    ["ok", 8, { ctor: 5 }, /ctor 5/],
  ])("createCache(%j, %j, %j) throws EINVAL", (name, size, options, message) => {
    const { heap } = flatHeap();
    const before = heap.listCaches().length;
    expectError(() => heap.createCache(name, size, options as never), "EINVAL", message);
    expect(heap.listCaches().length).toBe(before);
  });

  it("raises small alignments to 8 and honours larger ones", () => {
    const { heap } = flatHeap();
    expect(heap.createCache("a1", 3, { align: 1 }).geometry.align).toBe(8);
    const wide = heap.createCache("a256", 100, { align: 256 });
    for (let i = 0; i < 40; i++) expect(heap.cacheAlloc(wide) % 256).toBe(0);
    heap.check();
  });
});
