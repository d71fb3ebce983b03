import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { container } from "tsyringe";
import {
  API_VERSION,
  FlatMemory,
  FlatPageSource,
  TOKENS,
  manifestProblems,
  resolveToken,
} from "@allockit/core";
import plugin, { SlabHeap, resolveSlabHeapOptions } from "@allockit/heap-slab";
import { expectError } from "./helpers.js";

describe("heap-slab plugin manifest", () => {
  it("is a valid heap manifest", () => {
    expect(manifestProblems(plugin)).toEqual([]);
    expect(plugin.apiVersion).toBe(API_VERSION);
    expect(plugin.name).toBe("@allockit/heap-slab");
    expect(plugin.kind).toBe("heap");
  });

  it("fills option defaults and rejects unknown or out-of-range options", () => {
    expect(plugin.options.parse({})).toEqual({
      keepEmptySlabs: 1,
      offSlabThreshold: 512,
      colouring: true,
    });
    expect(plugin.options.safeParse({ keepEmptySlabs: -1 }).success).toBe(false);
    expect(plugin.options.safeParse({ keepEmptySlabs: 1.5 }).success).toBe(false);
    expect(plugin.options.safeParse({ offSlabThreshold: 32 }).success).toBe(false);
    expect(plugin.options.safeParse({ offSlabThreshold: 8192 }).success).toBe(false);
    expect(plugin.options.safeParse({ colouring: "yes" }).success).toBe(false);
    expect(plugin.options.safeParse({ slabSize: 2 }).success).toBe(false);
  });

  it("registers one SlabHeap under TOKENS.Heap over TOKENS.PageSource, with the options", () => {
    const child = container.createChildContainer();
    const source = new FlatPageSource(new FlatMemory(1 << 20));
    child.register(TOKENS.PageSource, { useValue: source });
    plugin.register(child, plugin.options.parse({ keepEmptySlabs: 0, colouring: false }));
    const heap = resolveToken(child, TOKENS.Heap);
    expect(heap).toBeInstanceOf(SlabHeap);
    expect(resolveToken(child, TOKENS.Heap)).toBe(heap);
    expect(heap.memory).toBe(source.memory);
    expect((heap as SlabHeap).options).toEqual({
      keepEmptySlabs: 0,
      offSlabThreshold: 512,
      colouring: false,
    });
    expect(heap.releasesMemory).toBe(true);
    const ptr = heap.heap_alloc(100);
    expect(source.stats().pagesInUse).toBeGreaterThan(0);
    heap.heap_free(ptr);
    expect(source.stats().pagesInUse).toBe(0);
  });
});

describe("SlabHeap options", () => {
  it("validates options given to the constructor", () => {
    expect(resolveSlabHeapOptions()).toEqual({
      keepEmptySlabs: 1,
      offSlabThreshold: 512,
      colouring: true,
    });
    expectError(
      () => resolveSlabHeapOptions({ keepEmptySlabs: -2 }),
      "EINVAL",
      /keepEmptySlabs -2/,
    );
    expectError(
      () => resolveSlabHeapOptions({ offSlabThreshold: 63 }),
      "EINVAL",
      /offSlabThreshold 63/,
    );
    expectError(
      () => resolveSlabHeapOptions({ colouring: 1 as unknown as boolean }),
      "EINVAL",
      /colouring 1/,
    );
  });

  it("releases memory only when it keeps no empty slab", () => {
    const source = new FlatPageSource(new FlatMemory(1 << 20));
    expect(new SlabHeap(source).releasesMemory).toBe(false);
    expect(new SlabHeap(source, { keepEmptySlabs: 0 }).releasesMemory).toBe(true);
  });

  it("puts objects from the off-slab threshold up off-slab", () => {
    const source = new FlatPageSource(new FlatMemory(1 << 20));
    const heap = new SlabHeap(source, { offSlabThreshold: 128 });
    expect(heap.findCache("kmalloc-96")!.geometry.offSlab).toBe(false);
    expect(heap.findCache("kmalloc-128")!.geometry.offSlab).toBe(true);
    expect(heap.createCache("c4096", 4000).geometry.offSlab).toBe(true);
    const wide = new SlabHeap(source, { offSlabThreshold: 4096 });
    expect(wide.findCache("kmalloc-2048")!.geometry).toMatchObject({
      offSlab: false,
      objectsPerSlab: 1,
    });
  });
});
