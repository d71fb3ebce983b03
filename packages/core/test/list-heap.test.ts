import { describe, expect, it } from "vitest";
import {
  AllocatorError,
  FlatMemory,
  FlatPageSource,
  ListHeap,
  isAllocatorError,
  type AllocatorErrorCode,
} from "@allockit/core";

function makeHeap(options: { pageLimit?: number; sizeMiB?: number } = {}) {
  const memory = new FlatMemory((options.sizeMiB ?? 8) * 1024 * 1024);
  const source = new FlatPageSource(
    memory,
    options.pageLimit === undefined ? {} : { pageLimit: options.pageLimit },
  );
  return { memory, source, heap: new ListHeap(source) };
}

/** Fills a block with a pattern derived from its address, and checks it back. */
function paint(memory: FlatMemory, ptr: number, size: number): void {
  for (let i = 0; i < size; i++) memory.write8(ptr + i, (ptr + i * 7) & 0xff);
}
function intact(memory: FlatMemory, ptr: number, size: number): boolean {
  for (let i = 0; i < size; i++) if (memory.read8(ptr + i) !== ((ptr + i * 7) & 0xff)) return false;
  return true;
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

describe("ListHeap bad input", () => {
  // A heap with live blocks of several sizes, painted, so we can see that nothing moved.
  function populated() {
    const env = makeHeap();
    const live: Array<[number, number]> = [];
    for (const size of [0, 1, 24, 100, 4000, 70000, 13]) {
      const ptr = env.heap.heap_alloc(size, size === 100 ? 256 : 0);
      paint(env.memory, ptr, size);
      live.push([ptr, size]);
    }
    const freed = env.heap.heap_alloc(48);
    const keepArenaAlive = env.heap.heap_alloc(48);
    paint(env.memory, keepArenaAlive, 48);
    live.push([keepArenaAlive, 48]);
    env.heap.heap_free(freed);
    return { ...env, live, freed };
  }

  const sizeCases: Array<[string, number]> = [
    ["-1", -1],
    ["NaN", NaN],
    ["1.5", 1.5],
    ["9007199254740992", 2 ** 53],
  ];
  const alignCases: Array<[string, number]> = [
    ["3", 3],
    ["-8", -8],
    ["1099511627776", 2 ** 40],
  ];

  it.each(sizeCases)(
    "heap_alloc(size %s) raises EINVAL naming the size, heap intact",
    (text, size) => {
      const { heap, memory, live } = populated();
      const before = heap.stats();
      const error = thrown(() => heap.heap_alloc(size, 0));
      expect(error.code).toBe("EINVAL");
      expect(error.message).toContain(text);
      expect(error.value).toBe(size);
      heap.check();
      expect(heap.stats()).toEqual(before);
      for (const [ptr, sz] of live) expect(intact(memory, ptr, sz)).toBe(true);
    },
  );

  it.each(alignCases)(
    "heap_alloc(align %s) raises EINVAL naming the alignment, heap intact",
    (text, align) => {
      const { heap, memory, live } = populated();
      const before = heap.stats();
      const error = thrown(() => heap.heap_alloc(64, align));
      expect(error.code).toBe("EINVAL");
      expect(error.message).toContain(text);
      heap.check();
      expect(heap.stats()).toEqual(before);
      for (const [ptr, sz] of live) expect(intact(memory, ptr, sz)).toBe(true);
    },
  );

  const freeCases: Array<
    [string, (env: ReturnType<typeof populated>) => number, AllocatorErrorCode]
  > = [
    ["a foreign pointer (outside every arena)", () => 0x7f0000, "EFAULT"],
    ["a foreign pointer (below memory)", () => 16, "EFAULT"],
    ["an interior pointer", (env) => env.live[3]![0] + 16, "EFAULT"],
    ["a pointer one byte in", (env) => env.live[4]![0] + 1, "EFAULT"],
    ["an already-freed pointer", (env) => env.freed, "EDOUBLEFREE"],
  ];

  it.each(freeCases)(
    "heap_free of %s raises a typed error naming it, heap intact",
    (_what, pick, code) => {
      const env = populated();
      const ptr = pick(env);
      const before = env.heap.stats();
      const error = thrown(() => env.heap.heap_free(ptr));
      expect(error.code).toBe(code);
      expect(error.message).toContain(String(ptr));
      env.heap.check();
      expect(env.heap.stats()).toEqual(before);
      for (const [p, sz] of env.live) expect(intact(env.memory, p, sz)).toBe(true);
      expect(env.heap.heap_size(ptr)).toBe(0);
    },
  );

  it("heap_free(NaN) raises EINVAL and heap_free(0) does nothing", () => {
    const { heap } = populated();
    expect(thrown(() => heap.heap_free(NaN)).code).toBe("EINVAL");
    const before = heap.stats();
    heap.heap_free(0);
    expect(heap.stats()).toEqual(before);
  });

  it("heap_size is 0 for pointers it did not hand out, never throwing", () => {
    const { heap, live, freed } = populated();
    for (const ptr of [0, NaN, -5, 1.5, 0x7f0000, live[3]![0] + 16, freed])
      expect(heap.heap_size(ptr)).toBe(0);
  });
});

describe("ListHeap behaviour", () => {
  it("dumps one line per arena with its used and free blocks, and refuses corrupt metadata", () => {
    const { heap, memory } = makeHeap();
    const small = Array.from({ length: 10 }, () => heap.heap_alloc(100));
    const large = heap.heap_alloc(200_000);
    heap.heap_free(small[3]!);
    const text = heap.dump();
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^list-heap: 2 arena\(s\), .* 10 live block\(s\)/);
    expect(lines.filter((line) => line.startsWith("  arena 0x"))).toHaveLength(2);
    expect(text).toMatch(/ 9 used \(1008 B\), +2 free/);
    expect(text).toMatch(/ 1 used \(195\.\d+ KiB\)/);
    expect(lines.at(-1)).toMatch(/^free list: \d+ block\(s\)/);
    memory.write32(large - 16 + 4, 0xdeadbeef); // the large block's tag
    expect(thrown(() => heap.dump()).code).toBe("ECORRUPT");
  });

  it("honours alignments up to large powers of two and the 16-byte default", () => {
    const { heap } = makeHeap({ sizeMiB: 16 });
    for (let shift = 0; shift <= 20; shift++) {
      const align = 2 ** shift;
      const ptr = heap.heap_alloc(40, align);
      expect(ptr).not.toBe(0);
      expect(ptr % Math.max(align, 16)).toBe(0);
      expect(heap.heap_size(ptr)).toBeGreaterThanOrEqual(40);
    }
    heap.check();
  });

  it("coalesces neighbours so freed space is reused whole", () => {
    const { heap } = makeHeap();
    const keep = heap.heap_alloc(16);
    const blocks = Array.from({ length: 8 }, () => heap.heap_alloc(1000));
    const tail = heap.heap_alloc(16);
    for (const b of blocks) heap.heap_free(b);
    heap.check();
    const big = heap.heap_alloc(8 * 1000);
    expect(big).toBe(blocks[0]);
    heap.heap_free(big);
    heap.heap_free(keep);
    heap.heap_free(tail);
    heap.check();
  });

  it("returns every arena to the page source once empty", () => {
    const { heap, source } = makeHeap();
    const ptrs = [];
    for (let i = 0; i < 500; i++)
      ptrs.push(heap.heap_alloc((i * 37) % 3000, i % 5 === 0 ? 512 : 0));
    expect(source.stats().pagesInUse).toBeGreaterThan(0);
    for (const p of ptrs.reverse()) heap.heap_free(p);
    heap.check();
    expect(source.stats().pagesInUse).toBe(0);
    expect(heap.stats()).toMatchObject({
      liveBlocks: 0,
      liveBytes: 0,
      requestedBytes: 0,
      footprintBytes: 0,
    });
  });

  it("returns 0 when the page source is exhausted and recovers after frees", () => {
    const { heap } = makeHeap({ pageLimit: 32 });
    const ptrs: number[] = [];
    for (;;) {
      const p = heap.heap_alloc(3000);
      if (p === 0) break;
      ptrs.push(p);
    }
    expect(ptrs.length).toBeGreaterThan(10);
    expect(heap.stats().failedAllocs).toBe(1);
    heap.heap_free(ptrs.pop()!);
    expect(heap.heap_alloc(3000)).not.toBe(0);
    heap.check();
  });

  it("serves a request larger than the arena size from its own arena", () => {
    const { heap } = makeHeap();
    const ptr = heap.heap_alloc(1024 * 1024, 4096);
    expect(ptr % 4096).toBe(0);
    expect(heap.heap_size(ptr)).toBeGreaterThanOrEqual(1024 * 1024);
    heap.check();
  });

  it("check() reports a stray write over block metadata as ECORRUPT", () => {
    const { heap, memory } = makeHeap();
    const a = heap.heap_alloc(64);
    heap.heap_alloc(64);
    memory.write32(a + 64 + 4, 0xdeadbeef); // the next block's tag
    const error = thrown(() => heap.check());
    expect(error.code).toBe("ECORRUPT");
  });

  it("check() notices a broken free-list link", () => {
    const { heap, memory } = makeHeap();
    const a = heap.heap_alloc(64);
    heap.heap_alloc(64);
    const c = heap.heap_alloc(64);
    heap.heap_alloc(64);
    heap.heap_free(a);
    heap.heap_free(c);
    memory.write32(c + 8, 0x1230); // c's prev-free link (payload +8 is F_PREV - HEADER)
    expect(thrown(() => heap.check()).code).toBe("ECORRUPT");
  });
});
