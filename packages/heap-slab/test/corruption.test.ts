import { describe, expect, it } from "vitest";
import type { FlatMemory } from "@allockit/core";
import type { SlabHeap } from "@allockit/heap-slab";
import { expectError, flatHeap } from "./helpers.js";

/** Header of the one-page slab holding `ptr` (on-slab caches: the last 64 bytes of the page). */
const headerOf = (ptr: number): number => ptr - (ptr % 4096) + 4096 - 64;

const write64 = (memory: FlatMemory, addr: number, value: number): void => {
  memory.write32(addr, value % 2 ** 32);
  memory.write32(addr + 4, Math.floor(value / 2 ** 32));
};

/** A heap with kmalloc-64 objects a (live), b and c (freed: c heads the free list, then b). */
function withFreeList(): { heap: SlabHeap; memory: FlatMemory; a: number; b: number; c: number } {
  const { heap, memory } = flatHeap();
  const a = heap.heap_alloc(64);
  const b = heap.heap_alloc(64);
  const c = heap.heap_alloc(64);
  heap.heap_alloc(64);
  heap.heap_free(b);
  heap.heap_free(c);
  heap.check();
  return { heap, memory, a, b, c };
}

describe("check() finds corrupted metadata", () => {
  it.each([
    ["the magic", 0, 0x12345678, /magic/],
    ["the cache field", 4, 99, /cache field|not a slab header/],
    ["the in-use count", 8, 7, /in use|counted|allocated/],
    ["the colour", 12, 4, /colour/],
    ["the list field", 52, 2, /list/],
    ["the fresh index", 48, 60, /handed out|free list/],
  ])("a garbage word over %s of a slab header", (_what, offset, value, message) => {
    const { heap, memory, a } = withFreeList();
    memory.write32(headerOf(a) + offset, value);
    expectError(() => heap.check(), "ECORRUPT", message);
  });

  /** Writes object `obj`'s bufctl (kmalloc-64: 61 objects, so one byte each, 0xff ends). */
  function setBufctl(heap: SlabHeap, memory: FlatMemory, obj: number, next: number): void {
    const g = heap.findCache("kmalloc-64")!.geometry;
    const first = headerOf(obj) - 4032 + memory.read32(headerOf(obj) + 12);
    memory.write8(headerOf(obj) + g.bufctlOffset + (obj - first) / g.stride, next);
  }
  const indexOf = (memory: FlatMemory, obj: number): number =>
    (obj - (headerOf(obj) - 4032 + memory.read32(headerOf(obj) + 12))) / 64;

  it("a bufctl past the slab's objects (and heap_alloc refuses to follow it)", () => {
    const { heap, memory, c } = withFreeList();
    setBufctl(heap, memory, c, 200);
    expectError(() => heap.check(), "ECORRUPT", /free-list link to object 200/);
    // Taking c would make the bad bufctl the list head: heap_alloc refuses, changing nothing.
    expectError(() => heap.heap_alloc(64), "ECORRUPT", /links to index 200/);
    expect(heap.stats().liveBlocks).toBe(2);
  });

  it("writes into freed objects do not touch the free list", () => {
    const { heap, memory, b, c } = withFreeList();
    memory.fill(b, 0xa5, 64);
    memory.fill(c, 0x5a, 64);
    heap.check();
    expect([heap.heap_alloc(64), heap.heap_alloc(64)]).toEqual([c, b]);
    heap.check();
  });

  it("a free-list cycle", () => {
    const { heap, memory, b, c } = withFreeList();
    setBufctl(heap, memory, b, indexOf(memory, c));
    expectError(() => heap.check(), "ECORRUPT", /cycle/);
  });

  it("a free list cut short (count mismatch)", () => {
    const { heap, memory, c } = withFreeList();
    setBufctl(heap, memory, c, 0xff);
    expectError(() => heap.check(), "ECORRUPT", /holds 1 of 2/);
  });

  it("a free-list link to an allocated object (and heap_alloc refuses to hand it out twice)", () => {
    const { heap, memory, a, c } = withFreeList();
    setBufctl(heap, memory, c, indexOf(memory, a));
    expectError(() => heap.check(), "ECORRUPT", /allocated/);
    heap.heap_alloc(64);
    const stats = heap.stats();
    const header = memory.readBytes(headerOf(a) - 8, 72);
    expectError(() => heap.heap_alloc(64), "ECORRUPT", /allocated/);
    // Nothing changed: the same call fails the same way, header and bitmap untouched.
    expect(memory.readBytes(headerOf(a) - 8, 72)).toEqual(header);
    expect(heap.stats()).toEqual(stats);
    expectError(() => heap.heap_alloc(64), "ECORRUPT", /allocated/);
  });

  it("a flipped bit in the allocated-object bitmap", () => {
    const { heap, memory, a } = withFreeList();
    const bitmap = headerOf(a) - 8; // kmalloc-64: 61 objects, an 8-byte bitmap below the header
    memory.write32(bitmap, memory.read32(bitmap) ^ 0b10);
    expectError(() => heap.check(), "ECORRUPT");
  });

  it("a broken slab-list link", () => {
    const { heap, memory } = flatHeap();
    const objects = Array.from({ length: 62 * 3 }, () => heap.heap_alloc(64));
    heap.check();
    write64(memory, headerOf(objects[0]!) + 16, 0x400000);
    expectError(() => heap.check(), "ECORRUPT", /not a slab header|prev link|list/);
  });

  it("a garbage off-slab header (bufctl and free index)", () => {
    const { heap, memory } = flatHeap();
    const objects = Array.from({ length: 3 }, () => heap.heap_alloc(1024));
    heap.heap_free(objects[1]!);
    heap.check();
    // The only off-slab header is the first object of the slab-header cache's slab, found
    // after the table page and before the kmalloc-1024 slab.
    let header = 0;
    for (let addr = 4096; addr < objects[0]!; addr += 4096) {
      if (memory.read32(addr) === 0x534c4142) header = addr;
    }
    expect(header).not.toBe(0);
    memory.write32(header + 40, 2); // free-list head index: an allocated object
    expectError(() => heap.check(), "ECORRUPT", /allocated/);
  });

  it("a garbage page-ownership entry", () => {
    const { heap, memory } = flatHeap();
    heap.heap_alloc(16);
    heap.heap_alloc(5000);
    heap.check();
    // The table is the first page handed out; every occupied entry has a non-zero kind word.
    for (let entry = 4096; entry < 8192; entry += 16) {
      if (memory.read32(entry + 4) !== 0) memory.write32(entry + 4, 0x07000000);
    }
    expectError(() => heap.check(), "ECORRUPT", /kind 7/);
  });

  it("stays quiet on an intact heap with every kind of metadata", () => {
    const { heap } = withFreeList();
    heap.heap_alloc(3000);
    heap.heap_alloc(700);
    const cache = heap.createCache("ok", 200, { ctor: () => undefined });
    heap.cacheAlloc(cache);
    expect(() => heap.check()).not.toThrow();
  });
});
