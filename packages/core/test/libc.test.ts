import { describe, expect, it } from "vitest";
import {
  ERRNO,
  FlatMemory,
  FlatPageSource,
  Libc,
  ListHeap,
  isAllocatorError,
} from "@allockit/core";

function makeLibc(pageLimit?: number) {
  const memory = new FlatMemory(8 * 1024 * 1024);
  const source = new FlatPageSource(memory, pageLimit === undefined ? {} : { pageLimit });
  const heap = new ListHeap(source);
  return { memory, heap, libc: new Libc(heap) };
}

describe("libc layer", () => {
  it("calloc zeroes, and an overflowing n x size returns 0 with nothing allocated", () => {
    const { libc, heap, memory } = makeLibc();
    const dirty = libc.malloc(256);
    memory.fill(dirty, 0xab, 256);
    libc.free(dirty);
    const p = libc.calloc(16, 16);
    expect(p).not.toBe(0);
    expect([...memory.readBytes(p, 256)].every((b) => b === 0)).toBe(true);
    const before = heap.stats().allocs;
    expect(libc.calloc(2 ** 30, 2 ** 30)).toBe(0);
    expect(libc.calloc(Number.MAX_SAFE_INTEGER, 2)).toBe(0);
    expect(libc.errno).toBe(ERRNO.ENOMEM);
    expect(heap.stats().allocs).toBe(before);
  });

  it("realloc grows in place when the usable size suffices, else moves min(old, new) bytes", () => {
    const { libc, heap, memory } = makeLibc();
    const p = libc.malloc(20);
    const usable = heap.heap_size(p);
    expect(libc.realloc(p, usable)).toBe(p);
    for (let i = 0; i < usable; i++) memory.write8(p + i, i);
    const blocker = libc.malloc(16);
    const q = libc.realloc(p, 5000);
    expect(q).not.toBe(p);
    expect([...memory.readBytes(q, usable)]).toEqual(Array.from({ length: usable }, (_, i) => i));
    expect(heap.heap_size(p)).toBe(0);
    const r = libc.realloc(q, 10);
    expect(r).toBe(q); // shrinking never moves
    libc.free(r);
    libc.free(blocker);
    heap.check();
  });

  it("realloc(0, n) is malloc, realloc(p, 0) frees and returns 0", () => {
    const { libc, heap } = makeLibc();
    const p = libc.realloc(0, 100);
    expect(heap.heap_size(p)).toBeGreaterThanOrEqual(100);
    expect(libc.realloc(p, 0)).toBe(0);
    expect(heap.heap_size(p)).toBe(0);
    expect(heap.stats().liveBlocks).toBe(0);
  });

  it("a failed realloc leaves the old block valid", () => {
    const { libc, heap, memory } = makeLibc(16);
    const p = libc.malloc(1000);
    memory.fill(p, 0x5a, 1000);
    expect(libc.realloc(p, 10 * 1024 * 1024)).toBe(0);
    expect(libc.errno).toBe(ERRNO.ENOMEM);
    expect(heap.heap_size(p)).toBeGreaterThanOrEqual(1000);
    expect([...memory.readBytes(p, 1000)].every((b) => b === 0x5a)).toBe(true);
    heap.check();
  });

  it("realloc of a pointer the heap did not hand out raises EFAULT", () => {
    const { libc } = makeLibc();
    libc.malloc(10);
    try {
      libc.realloc(0x12340, 10);
      expect.unreachable();
    } catch (error) {
      expect(isAllocatorError(error) && error.code).toBe("EFAULT");
    }
  });

  it("posix_memalign returns EINVAL for bad alignments and leaves the out value alone", () => {
    const { libc } = makeLibc();
    const out = { value: 77 };
    for (const bad of [0, 3, 4, 24, -8])
      expect(libc.posix_memalign(out, bad, 10)).toBe(ERRNO.EINVAL);
    expect(out.value).toBe(77);
    expect(libc.posix_memalign(out, 64, 10)).toBe(0);
    expect(out.value % 64).toBe(0);
  });

  it("posix_memalign returns ENOMEM when memory runs out", () => {
    const { libc } = makeLibc(2);
    const out = { value: 0 };
    expect(libc.posix_memalign(out, 4096, 1024 * 1024)).toBe(ERRNO.ENOMEM);
    expect(out.value).toBe(0);
  });

  it("aligned_alloc, memalign, valloc and pvalloc align as promised", () => {
    const { libc, heap } = makeLibc();
    expect(libc.aligned_alloc(256, 100) % 256).toBe(0);
    expect(libc.memalign(2048, 1) % 2048).toBe(0);
    const v = libc.valloc(10);
    expect(v % 4096).toBe(0);
    const pv = libc.pvalloc(4097);
    expect(pv % 4096).toBe(0);
    expect(heap.heap_size(pv)).toBeGreaterThanOrEqual(8192);
    expect(heap.heap_size(libc.pvalloc(0))).toBeGreaterThanOrEqual(4096);
    expect(() => libc.aligned_alloc(48, 10)).toThrow(/48/);
    expect(() => libc.memalign(3, 10)).toThrow(/alignment 3/);
  });

  it("malloc_usable_size matches heap_size, 0 for null", () => {
    const { libc, heap } = makeLibc();
    const p = libc.malloc(33);
    expect(libc.malloc_usable_size(p)).toBe(heap.heap_size(p));
    expect(libc.malloc_usable_size(0)).toBe(0);
    expect(() => libc.malloc(-1)).toThrow(/-1/);
  });
});
