import { describe, expect, it } from "vitest";
import { FAILURE_MODES, FailingPageSource, FlatMemory, FlatPageSource, MiB } from "@allockit/core";
import { SlabHeap } from "@allockit/heap-slab";
import { flatHeap } from "./helpers.js";

/** Fills `slabs` slabs of `cache` and returns the objects. */
function fillSlabs(heap: SlabHeap, name: string, size: number, slabs: number): number[] {
  const cache = heap.findCache(name) ?? heap.createCache(name, size);
  const objects: number[] = [];
  for (let i = 0; i < slabs * cache.geometry.objectsPerSlab; i++)
    objects.push(heap.cacheAlloc(cache));
  expect(cache.slabs).toBe(slabs);
  return objects;
}

describe("reap policy", () => {
  it.each([0, 1, 3])("keeps %i empty slab(s) per cache and releases the rest at once", (keep) => {
    const { heap, source } = flatHeap({ keepEmptySlabs: keep });
    const cache = heap.createCache("keeper", 256);
    const objects = fillSlabs(heap, "keeper", 256, 5);
    const pagesFull = source.stats().pagesInUse;
    for (const obj of objects) heap.cacheFree(cache, obj);
    expect(cache.emptySlabs).toBe(keep);
    expect(cache.statistics.slabsReaped).toBe(5 - keep);
    expect(source.stats().pagesInUse).toBe(pagesFull - (5 - keep) - (keep === 0 ? 1 : 0));
    heap.check();
  });

  it("reap() releases every empty slab of every cache and the page table", () => {
    const { heap, source } = flatHeap({ keepEmptySlabs: 2 });
    const small = fillSlabs(heap, "small", 64, 3);
    const large = fillSlabs(heap, "large", 3000, 2);
    const blocks = Array.from({ length: 30 }, (_, i) => heap.heap_alloc(8 + i * 60));
    for (const obj of small) heap.cacheFree(heap.findCache("small")!, obj);
    for (const obj of large) heap.cacheFree(heap.findCache("large")!, obj);
    for (const block of blocks) heap.heap_free(block);
    const held = source.stats().pagesInUse;
    expect(held).toBeGreaterThan(0);
    expect(heap.stats().extra!.emptySlabs).toBeGreaterThan(0);
    const released = heap.reap();
    // Everything was empty: slabs, off-slab header slabs and the table all went back.
    expect(released).toBe(held);
    expect(source.stats().pagesInUse).toBe(0);
    expect(heap.stats().extra).toMatchObject({ slabs: 0, emptySlabs: 0, tablePages: 0 });
    expect(heap.reap()).toBe(0);
    heap.check();
  });

  it("reap() leaves partial and full slabs alone", () => {
    const { heap } = flatHeap({ keepEmptySlabs: 5 });
    const objects = fillSlabs(heap, "mixed", 128, 4);
    const cache = heap.findCache("mixed")!;
    const perSlab = cache.geometry.objectsPerSlab;
    // Empty the first two slabs, half of the third.
    for (let i = 0; i < 2.5 * perSlab; i++) heap.cacheFree(cache, objects[i]!);
    expect([cache.emptySlabs, cache.partialSlabs, cache.fullSlabs]).toEqual([2, 1, 1]);
    expect(heap.reap()).toBe(2);
    expect([cache.emptySlabs, cache.partialSlabs, cache.fullSlabs]).toEqual([0, 1, 1]);
    heap.check();
  });

  it("reaps every cache and retries when the PageSource runs dry", () => {
    const { heap, source } = flatHeap({ keepEmptySlabs: 6, pageLimit: 8 });
    const objects = fillSlabs(heap, "hog", 512, 6); // 6 slab pages, 1 header page, 1 table page
    expect(source.stats().pagesInUse).toBe(8);
    for (const obj of objects) heap.cacheFree(heap.findCache("hog")!, obj);
    expect(heap.findCache("hog")!.emptySlabs).toBe(6);
    const before = heap.stats().extra!.pressureReaps!;
    const block = heap.heap_alloc(100);
    expect(block).not.toBe(0);
    expect(heap.stats().extra!.pressureReaps).toBe(before + 1);
    expect(heap.findCache("hog")!.emptySlabs).toBe(0);
    heap.check();
  });

  it("returns 0 when reaping frees nothing, without asking twice", () => {
    const { heap, source } = flatHeap({ pageLimit: 2 });
    const first = heap.heap_alloc(16); // table + one slab
    expect(first).not.toBe(0);
    const calls = source.stats().allocCalls;
    expect(heap.heap_alloc(3000)).toBe(0);
    expect(source.stats().allocCalls).toBe(calls + 1);
    expect(heap.stats().failedAllocs).toBe(1);
    heap.check();
  });
});

describe("the page-ownership table", () => {
  it("grows past half full, shrinks below an eighth, and goes back when empty", () => {
    const { heap, source } = flatHeap({ keepEmptySlabs: 0 });
    const runs = Array.from({ length: 300 }, () => heap.heap_alloc(4000, 8192));
    // 300 entries need 1024 slots (at most half full): 16 bytes each, 4 pages.
    expect(heap.stats().extra).toMatchObject({ tableEntries: 300, tablePages: 4 });
    for (const run of runs) expect(heap.heap_size(run)).toBe(4096);
    heap.check();
    for (const run of runs.slice(0, 250)) heap.heap_free(run);
    // 50 entries: below an eighth of 1024 then of 512 slots, so the table halved twice.
    expect(heap.stats().extra).toMatchObject({ tableEntries: 50, tablePages: 1 });
    for (const run of runs.slice(250)) expect(heap.heap_size(run)).toBe(4096);
    heap.check();
    for (const run of runs.slice(250)) heap.heap_free(run);
    expect(heap.stats().extra).toMatchObject({ tableEntries: 0, tablePages: 0 });
    expect(source.stats().pagesInUse).toBe(0);
  });
});

describe("page request failures in the middle of cache operations", () => {
  /** A script over user caches (on-slab with ctor, off-slab multi-page) and the size classes. */
  function script(heap: SlabHeap, fail: () => void): void {
    const live: [string, number][] = [];
    const caches = [
      heap.createCache("ctor-obj", 72, { ctor: (m, a) => m.write32(a, 0xc0ffee) }),
      heap.createCache("big-obj", 3000, { dtor: () => undefined }),
      heap.createCache("mid-obj", 700),
    ];
    for (let step = 0; step < 90; step++) {
      const pick = (step * 7) % 5;
      if (pick < 3) {
        const cache = caches[pick]!;
        const obj = heap.cacheAlloc(cache);
        if (obj === 0) fail();
        else live.push([cache.name, obj]);
      } else if (pick === 3 && live.length > 0) {
        const [name, obj] = live.splice((step * 13) % live.length, 1)[0]!;
        if (name === "") heap.heap_free(obj);
        else heap.cacheFree(heap.findCache(name)!, obj);
      } else {
        const block = heap.heap_alloc((step * 97) % 5000);
        if (block === 0) fail();
        else live.push(["", block]);
      }
      heap.check();
    }
    for (const [name, obj] of live) {
      if (name === "") heap.heap_free(obj);
      else heap.cacheFree(heap.findCache(name)!, obj);
      heap.check();
    }
    for (const cache of caches) heap.destroyCache(cache);
  }

  it("stays consistent and returns every page whichever request fails", () => {
    const memory = new FlatMemory(8 * MiB);
    const counting = new FailingPageSource(new FlatPageSource(memory));
    script(new SlabHeap(counting, { keepEmptySlabs: 0 }), () => {
      throw new Error("no request fails when disarmed");
    });
    const requests = counting.requests;
    expect(requests).toBeGreaterThan(20);
    for (const mode of FAILURE_MODES) {
      // arm(n): the request n after the one that is next fails (n >= 1).
      for (let n = 1; n < requests; n++) {
        memory.fill(0, 0, memory.size);
        const source = new FailingPageSource(new FlatPageSource(memory));
        const heap = new SlabHeap(source, { keepEmptySlabs: 0 });
        source.arm(n, mode);
        let failures = 0;
        script(heap, () => failures++);
        expect(failures, `${mode} ${n}`).toBeGreaterThan(0);
        expect(source.stats().pagesInUse, `${mode} ${n}`).toBe(0);
      }
    }
  });
});
