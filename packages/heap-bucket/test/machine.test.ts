import { describe, expect, it } from "vitest";
import { TWO_POW_32, hex } from "@allockit/core";
import { BUCKET_FLAGS, BucketHeap } from "../src/index.js";
import { codeOf } from "./helpers.js";
import { bootLongMode } from "./machine.js";

describe("BucketHeap on the machine in long mode", () => {
  it("keeps 48-bit addresses in its 64-bit pointer fields", () => {
    const vmm = bootLongMode();
    const heap = new BucketHeap(vmm.kernelHeap);
    const blocks = [
      heap.kmalloc(100, 0, 0, "first"),
      heap.kmalloc(100 * 1024, 4096, BUCKET_FLAGS.CLEAR, "big"),
      heap.heap_alloc(3000, 256),
    ];
    for (const ptr of blocks) expect(ptr).toBeGreaterThan(TWO_POW_32);
    expect(heap.pebbleName(blocks[1]!)).toBe("big");
    expect(heap.memory.read32(blocks[1]! + 50_000)).toBe(0);
    const dump = heap.dump();
    expect(dump).toContain(`data ${hex(blocks[1]!)}`);
    expect(dump).toMatch(/parent 0x9[0-9a-f]{11} /);
    heap.check();
    expect(codeOf(() => heap.heap_free(blocks[0]! + 64))).toBe("EFAULT");
    // The buddy PMM hands out contiguous runs, so the heap region can back a LOW16MEG bucket.
    const dma = heap.kmalloc(10_000, 0, BUCKET_FLAGS.LOW16MEG, "dma");
    expect(dma).toBeGreaterThan(TWO_POW_32);
    blocks.push(dma);
    const frame = vmm.kernelHeap.translate!(dma);
    for (let offset = 0; offset < 10_000; offset += 4096)
      expect(vmm.kernelHeap.translate!(dma + offset)).toBe(frame + offset);
    expect(frame + 10_000).toBeLessThanOrEqual(16 * 1024 * 1024);
    const pages = vmm.kernelHeap.stats().pagesInUse;
    for (const ptr of blocks) heap.heap_free(ptr);
    expect(vmm.kernelHeap.stats().pagesInUse).toBeLessThan(pages);
    expect(heap.stats().extra).toMatchObject({ buckets: 1, pebbles: 2 }); // the free pebble and the free-index pebble
    heap.check();
    vmm.check();
  });
});
