import { describe, expect, it } from "vitest";
import { BUCKET_FLAGS } from "../src/index.js";
import { KiB, MiB, codeOf, flatBucketHeap, hasPattern, writePattern } from "./helpers.js";

const { VIRTUAL, PHYSICAL, CLEAR, LOW16MEG } = BUCKET_FLAGS;

describe("krealloc", () => {
  it("shrinks in place, keeping the first bytes and freeing the tail", () => {
    const { heap, memory } = flatBucketHeap();
    const p = heap.kmalloc(1000);
    writePattern(memory, p, 1000, 1);
    const before = heap.stats().extra!.pebbles!;
    expect(heap.krealloc(p, 300)).toBe(p);
    expect(heap.heap_size(p)).toBe(320);
    expect(hasPattern(memory, p, 300, 1)).toBe(true);
    // The 704-byte tail became a free pebble and merged with the free rest of the bucket.
    expect(heap.stats().extra!.pebbles).toBe(before);
    expect(heap.stats()).toMatchObject({ liveBytes: 320, requestedBytes: 300 });
    heap.check();
  });

  it("grows in place into a free next neighbour", () => {
    const { heap, memory } = flatBucketHeap();
    const a = heap.kmalloc(100);
    const b = heap.kmalloc(2000);
    heap.kmalloc(64);
    writePattern(memory, a, 100, 2);
    heap.kfree(b);
    expect(heap.krealloc(a, 1500)).toBe(a);
    expect(heap.heap_size(a)).toBe(1536);
    expect(hasPattern(memory, a, 100, 2)).toBe(true);
    heap.check();
  });

  it("moves a block it cannot grow and copies min(old, new) bytes", () => {
    const { heap, memory } = flatBucketHeap();
    const a = heap.kmalloc(1000, 0, 0, "mover");
    heap.kmalloc(64); // blocks growth in place
    writePattern(memory, a, 1024, 3);
    const moved = heap.krealloc(a, 5000);
    expect(moved).not.toBe(a);
    expect(hasPattern(memory, moved, 1024, 3)).toBe(true);
    expect(heap.heap_size(a)).toBe(0);
    expect(heap.pebbleName(moved)).toBe("mover");
    expect(heap.stats()).toMatchObject({ liveBlocks: 2, allocs: 3, frees: 1 });
    heap.check();
  });

  it("copies only the new size when the block moves to a smaller one", () => {
    const { heap, memory } = flatBucketHeap();
    const a = heap.kmalloc(1000);
    writePattern(memory, a, 1024, 4);
    // A change of kind forces a move; CLEAR zeroes what is not copied.
    const moved = heap.krealloc(a, 100, PHYSICAL | CLEAR);
    expect(moved).not.toBe(a);
    expect(heap.heap_size(moved)).toBe(128);
    expect(hasPattern(memory, moved, 100, 4)).toBe(true);
    expect([...memory.readBytes(moved + 100, 28)].every((byte) => byte === 0)).toBe(true);
    heap.check();
  });

  it("passes the flags the block was requested with, not the pebble's state", () => {
    const { heap, memory } = flatBucketHeap();
    const a = heap.kmalloc(200, 0, LOW16MEG | CLEAR, "dma");
    heap.kmalloc(64, 0, LOW16MEG); // blocks growth in place
    writePattern(memory, a, 256, 5);
    const moved = heap.krealloc(a, 3000);
    expect(moved).not.toBe(a);
    expect(heap.flagsOf(moved)).toBe(PHYSICAL | LOW16MEG | CLEAR);
    expect(moved + heap.heap_size(moved)).toBeLessThanOrEqual(16 * MiB);
    expect(hasPattern(memory, moved, 256, 5)).toBe(true);
    expect([...memory.readBytes(moved + 256, 3008 - 256)].every((byte) => byte === 0)).toBe(true);
    // Flags given to krealloc replace them.
    const virtual = heap.krealloc(moved, 3000, VIRTUAL);
    expect(heap.flagsOf(virtual)).toBe(VIRTUAL);
    heap.check();
  });

  it("zeroes the grown part of a CLEAR block grown in place", () => {
    const { heap, memory } = flatBucketHeap();
    const a = heap.kmalloc(64, 0, CLEAR);
    const b = heap.kmalloc(1000);
    memory.fill(b, 0xee, 1024);
    heap.kfree(b); // its bytes stay dirty
    memory.fill(a, 0x11, 64);
    expect(heap.krealloc(a, 800)).toBe(a);
    expect(memory.read8(a + 63)).toBe(0x11);
    expect([...memory.readBytes(a + 64, 768)].every((byte) => byte === 0)).toBe(true);
  });

  it("returns 0 and keeps the old block intact when the new allocation fails", () => {
    // The first bucket takes 17 pages; the source allows no more.
    const { heap, memory, source } = flatBucketHeap({ pageLimit: 17 });
    const a = heap.kmalloc(1000, 0, 0, "keep");
    heap.kmalloc(1000);
    writePattern(memory, a, 1024, 6);
    const failed = source.stats().failedCalls;
    expect(heap.krealloc(a, 200 * KiB)).toBe(0);
    expect(source.stats().failedCalls).toBeGreaterThan(failed);
    expect(heap.heap_size(a)).toBe(1024);
    expect(hasPattern(memory, a, 1024, 6)).toBe(true);
    expect(heap.pebbleName(a)).toBe("keep");
    expect(heap.stats()).toMatchObject({ liveBlocks: 2, failedAllocs: 1 });
    heap.check();
    heap.kfree(a);
    heap.check();
  });

  it("acts as kmalloc for a null pointer and as kfree for size 0", () => {
    const { heap } = flatBucketHeap();
    const p = heap.krealloc(0, 100, CLEAR, "fresh");
    expect(heap.pebbleName(p)).toBe("fresh");
    expect(heap.flagsOf(p)).toBe(VIRTUAL | CLEAR);
    expect(heap.krealloc(p, 0)).toBe(0);
    expect(heap.heap_size(p)).toBe(0);
    expect(heap.stats()).toMatchObject({ liveBlocks: 0, frees: 1 });
  });

  it("renames in place and refuses bad pointers, flags and names, changing nothing", () => {
    const { heap } = flatBucketHeap();
    const p = heap.kmalloc(100, 0, 0, "old");
    expect(heap.krealloc(p, 100, undefined, "new")).toBe(p);
    expect(heap.pebbleName(p)).toBe("new");
    const stats = heap.stats();
    expect(codeOf(() => heap.krealloc(p + 64, 10))).toBe("EFAULT");
    expect(codeOf(() => heap.krealloc(p, 10, VIRTUAL | PHYSICAL))).toBe("EINVAL");
    expect(codeOf(() => heap.krealloc(p, 10, 0, "x".repeat(32)))).toBe("EINVAL");
    expect(codeOf(() => heap.krealloc(p, -1))).toBe("EINVAL");
    expect(heap.stats()).toEqual(stats);
    heap.kfree(p);
    expect(codeOf(() => heap.krealloc(p, 10))).toBe("EDOUBLEFREE");
    heap.check();
  });
});
