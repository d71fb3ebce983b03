import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hex, nextPowerOfTwo } from "@allockit/core";
import { BUCKET_FLAGS, MAX_ALIGN } from "../src/index.js";
import { KiB, MiB, codeOf, flatBucketHeap, messageOf, pebbleLines } from "./helpers.js";

/** The alignment kmalloc must honour for `align`. */
function honoured(align: number): number {
  return align <= 64 ? 64 : nextPowerOfTwo(align);
}

describe("aligned requests split one free pebble into three", () => {
  it("leaves a free pad pebble, the aligned pebble with its header just before the data, and a free remainder", () => {
    const { heap } = flatBucketHeap();
    const small = heap.kmalloc(100, 0, 0, "small");
    const aligned = heap.kmalloc(300, 4096, 0, "aligned");
    expect(aligned % 4096).toBe(0);
    const lines = pebbleLines(heap);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toContain(`data ${hex(small)} size 128 USED`);
    // The pad pebble: free, between the small block and the aligned pebble's header.
    expect(lines[1]).toMatch(/ FREE /);
    expect(lines[1]).toContain(`next ${hex(aligned - 128)}`);
    expect(lines[2]).toContain(`pebble ${hex(aligned - 128)} data ${hex(aligned)} size 320 USED`);
    expect(lines[2]).toContain("align 4096");
    expect(lines[3]).toMatch(/ FREE /);
    expect(lines[3]).toContain(`pebble ${hex(aligned + 320)} `);
    heap.check();
  });

  it("merges pad, pebble and remainder back into one when the aligned block is freed", () => {
    const { heap } = flatBucketHeap();
    const aligned = heap.kmalloc(5000, 8192);
    expect(pebbleLines(heap)).toHaveLength(3);
    heap.kfree(aligned);
    expect(pebbleLines(heap)).toHaveLength(1);
    expect(heap.stats().extra).toMatchObject({ buckets: 1, pebbles: 2, freePebbles: 1 }); // and the index pebble
    heap.check();
  });

  it("places data right after the header when it is already aligned (no pad pebble)", () => {
    const { heap } = flatBucketHeap();
    const first = heap.kmalloc(64, 128);
    const lines = pebbleLines(heap);
    // The first pebble's data (bucket + 256 + 128) is already a multiple of 128.
    expect(lines[0]).toContain(`data ${hex(first)} size 64 USED`);
    expect(lines).toHaveLength(2);
  });

  it("absorbs a remainder too small for a pebble of its own", () => {
    const { heap } = flatBucketHeap();
    const a = heap.kmalloc(1000);
    heap.kmalloc(64);
    heap.kfree(a); // a free pebble of 1024 bytes between the start and a used pebble
    const b = heap.kmalloc(900); // 960 bytes: the 64-byte rest cannot hold a header, so b takes it
    expect(b).toBe(a);
    expect(heap.heap_size(b)).toBe(1024);
    heap.check();
  });
});

describe("alignments from 1 byte to 1 MiB", () => {
  it("honours every power of two and rounds other alignments up, all blocks live at once", () => {
    const { heap, memory } = flatBucketHeap({ memoryBytes: 64 * MiB });
    const aligns: number[] = [0, 1, 2, 3, 5, 7, 8, 24, 48, 63, 65, 100, 1000, 3000, 4097, 65_537];
    for (let a = 1; a <= MAX_ALIGN; a *= 2) aligns.push(a);
    aligns.push(MAX_ALIGN - 1, 700_000);
    const live: [number, number][] = [];
    for (const align of aligns) {
      for (const size of [0, 1, 64, 65, 4096, 10_000]) {
        const ptr = heap.kmalloc(size, align, 0, `a${align}`);
        expect(ptr, `kmalloc(${size}, ${align})`).not.toBe(0);
        expect(ptr % honoured(align), `kmalloc(${size}, ${align}) -> ${hex(ptr)}`).toBe(0);
        expect(heap.heap_size(ptr)).toBeGreaterThanOrEqual(Math.max(size, 64));
        memory.fill(ptr, align & 0xff, heap.heap_size(ptr));
        live.push([ptr, align]);
      }
    }
    heap.check();
    for (const [ptr, align] of live) {
      expect(memory.read8(ptr + heap.heap_size(ptr) - 1)).toBe(align & 0xff);
      heap.kfree(ptr);
    }
    heap.check();
    expect(heap.stats().extra).toMatchObject({ buckets: 1, pebbles: 2 }); // the free pebble and the free-index pebble
  });

  it("refuses alignments above 1 MiB, negative or fractional ones with EINVAL naming them", () => {
    const { heap } = flatBucketHeap();
    for (const align of [MAX_ALIGN + 1, 2 * MAX_ALIGN, -64, 1.5, Number.NaN]) {
      expect(codeOf(() => heap.kmalloc(64, align))).toBe("EINVAL");
      expect(messageOf(() => heap.kmalloc(64, align))).toContain(String(align));
    }
    // The common API stays strict: a non-power of two is an error there.
    expect(codeOf(() => heap.heap_alloc(64, 48))).toBe("EINVAL");
    expect(heap.heap_alloc(64, MAX_ALIGN) % MAX_ALIGN).toBe(0);
    heap.check();
  });

  it("keeps every block aligned over random requests (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 20 * KiB }),
            fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constantFrom(256 * KiB, MiB)),
            fc.boolean(),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        (requests) => {
          const { heap } = flatBucketHeap({ memoryBytes: 48 * MiB });
          const live: number[] = [];
          for (const [size, align, freeOne] of requests) {
            const ptr = heap.kmalloc(size, align, BUCKET_FLAGS.VIRTUAL);
            expect(ptr % honoured(align)).toBe(0);
            live.push(ptr);
            if (freeOne && live.length > 1) heap.kfree(live.splice(live.length >> 1, 1)[0]!);
            heap.check();
          }
          for (const ptr of live) heap.kfree(ptr);
          heap.check();
          expect(heap.stats().extra).toMatchObject({ buckets: 1, pebbles: 2 }); // the free pebble and the free-index pebble
        },
      ),
      { numRuns: 60 },
    );
  });
});
