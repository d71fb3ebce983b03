import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { LARGEST_CLASS, SIZE_CLASSES } from "@allockit/heap-slab";
import { expectError, flatHeap } from "./helpers.js";

/** A class's object alignment: the largest power of two dividing it, at most a page. */
const classAlign = (cls: number): number => Math.min(cls & -cls, 4096);

/** The usable size heap_alloc(size, align) must give: the class, or whole pages. */
function expectedUsable(size: number, align: number): number {
  const alignment = Math.max(align, 8);
  for (const cls of SIZE_CLASSES) {
    if (cls >= size && classAlign(cls) >= alignment) return cls;
  }
  return Math.max(1, Math.ceil(size / 4096)) * 4096;
}

describe("heap_alloc size classes", () => {
  it.each(SIZE_CLASSES.map((cls) => [cls]))(
    "serves sizes up to %i from kmalloc-%i, aligned to the class's alignment",
    (cls) => {
      const { heap } = flatHeap();
      const previous = SIZE_CLASSES[SIZE_CLASSES.indexOf(cls) - 1] ?? 0;
      for (const size of [previous + 1, Math.floor((previous + cls + 1) / 2), cls]) {
        const ptr = heap.heap_alloc(size);
        expect(heap.heap_size(ptr)).toBe(cls);
        expect(ptr % classAlign(cls)).toBe(0);
      }
      const row = heap.slabinfo().find((r) => r.name === `kmalloc-${cls}`)!;
      expect(row.activeObjs).toBe(3);
      heap.check();
    },
  );

  it("serves size 0 from kmalloc-8", () => {
    const { heap } = flatHeap();
    expect(heap.heap_size(heap.heap_alloc(0))).toBe(8);
  });

  it("moves up to a class whose alignment is large enough", () => {
    const { heap } = flatHeap();
    expect(heap.heap_size(heap.heap_alloc(90, 64))).toBe(128); // 96 and 112 are 32- and 16-aligned
    expect(heap.heap_size(heap.heap_alloc(150, 128))).toBe(256); // 160 .. 224 are 32- or 64-aligned
    expect(heap.heap_size(heap.heap_alloc(8, 2048))).toBe(2048);
    expect(heap.heap_size(heap.heap_alloc(3000, 1024))).toBe(3072);
    expect(heap.heap_size(heap.heap_alloc(9000, 4096))).toBe(12288); // 10240 is 2048-aligned
    heap.check();
  });

  it("serves larger sizes and larger alignments as page runs", () => {
    const { heap } = flatHeap();
    const cases: [number, number, number][] = [
      [LARGEST_CLASS + 1, 0, Math.ceil((LARGEST_CLASS + 1) / 4096) * 4096],
      [4096, 8192, 4096],
      [4097, 8192, 8192],
      [8, 8192, 4096],
      [0, 8192, 4096],
      [100_000, 0, 25 * 4096],
      [5000, 1024 * 1024, 8192],
    ];
    for (const [size, align, usable] of cases) {
      const ptr = heap.heap_alloc(size, align);
      expect(ptr, `heap_alloc(${size}, ${align})`).not.toBe(0);
      expect(heap.heap_size(ptr)).toBe(usable);
      expect(ptr % Math.max(align, 4096)).toBe(0);
      expect(heap.heap_size(ptr + 8)).toBe(0);
    }
    const row = heap.slabinfo().find((r) => r.name === "page-runs")!;
    expect(row.activeObjs).toBe(cases.length);
    expect(heap.stats().extra!.largeRuns).toBe(cases.length);
    heap.check();
  });

  it("gives every (size, align) the expected usable size, aligned, without overlap", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 12_000 })),
            fc.constantFrom(0, 1, 8, 16, 32, 64, 128, 256, 512, 4096, 16384),
          ),
          { minLength: 1, maxLength: 40 },
        ),
        (requests) => {
          const { heap } = flatHeap();
          const blocks: [number, number][] = [];
          for (const [size, align] of requests) {
            const ptr = heap.heap_alloc(size, align);
            const usable = heap.heap_size(ptr);
            expect(usable).toBe(expectedUsable(size, align));
            expect(ptr % Math.max(align, 8)).toBe(0);
            blocks.push([ptr, usable]);
          }
          blocks.sort((a, b) => a[0] - b[0]);
          for (let i = 1; i < blocks.length; i++)
            expect(blocks[i - 1]![0] + blocks[i - 1]![1]).toBeLessThanOrEqual(blocks[i]![0]);
          heap.check();
          for (const [ptr] of blocks) heap.heap_free(ptr);
          expect(heap.stats()).toMatchObject({ liveBlocks: 0, liveBytes: 0, requestedBytes: 0 });
          heap.check();
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("heap_free and heap_size tell pointers apart", () => {
  it("reads 0 and refuses foreign, interior and freed pointers, changing nothing", () => {
    const { heap } = flatHeap();
    const small = heap.heap_alloc(40);
    const run = heap.heap_alloc(20_000);
    const freed = heap.heap_alloc(40);
    heap.heap_free(freed);
    const before = heap.stats();
    for (const ptr of [small + 8, small + 63, run + 4096, run + 1, freed, 2 ** 40, 8]) {
      expect(heap.heap_size(ptr), String(ptr)).toBe(0);
    }
    expectError(() => heap.heap_free(small + 8), "EFAULT", /8 bytes into object/);
    expectError(() => heap.heap_free(run + 16), "EFAULT", /16 bytes into the page run/);
    expectError(() => heap.heap_free(freed), "EDOUBLEFREE", /kmalloc-40/);
    expectError(() => heap.heap_free(2 ** 40), "EFAULT", /not in this heap/);
    expectError(() => heap.heap_free(1.5), "EINVAL", /1\.5/);
    // The metadata at the end of a small slab's page is not an object.
    const header = small - (small % 4096) + 4096 - 64;
    expectError(() => heap.heap_free(header), "EFAULT", /metadata/);
    expect(heap.stats()).toEqual(before);
    heap.check();
    heap.heap_free(run);
    expectError(() => heap.heap_free(run), "EFAULT", /not in this heap/);
    heap.heap_free(small);
    heap.check();
  });

  it("refuses malformed sizes and alignments with EINVAL naming the value", () => {
    const { heap } = flatHeap();
    expectError(() => heap.heap_alloc(-1), "EINVAL", /-1/);
    expectError(() => heap.heap_alloc(16, 24), "EINVAL", /24/);
    expectError(() => heap.heap_alloc(16, 2 ** 31), "EINVAL", /2147483648/);
    expect(heap.maxAlign).toBe(2 ** 30);
  });

  it("returns 0 for a request larger than a 32-bit size", () => {
    const { heap, source } = flatHeap();
    expect(heap.heap_alloc(2 ** 32)).toBe(0);
    expect(heap.stats().failedAllocs).toBe(1);
    expect(source.stats().pagesInUse).toBe(0);
  });
});
