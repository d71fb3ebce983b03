import { describe, expect, it } from "vitest";
import { hex } from "@allockit/core";
import { PEBBLE_MAGIC, USED_TAG } from "../src/index.js";
import {
  INDEX_NAME,
  PB_NEXT,
  PB_PARENT,
  PB_PREV,
  PB_SIZE,
  PB_STATE,
  write64,
} from "../src/layout.js";
import { codeOf, flatBucketHeap, messageOf } from "./helpers.js";
import type { FlatBucketHeap } from "./helpers.js";

/** The first bucket's address, read from the dump. */
function firstBucket(heap: FlatBucketHeap["heap"]): number {
  return Number(/^bucket (0x[0-9a-f]+)/.exec(heap.dump())![1]);
}

/** Writes a complete, plausible used-pebble header at `at` (inside some block's data). */
function forgeHeader(env: FlatBucketHeap, at: number, prev: number, next: number): void {
  const { memory, heap } = env;
  memory.write32(at, PEBBLE_MAGIC);
  memory.write32(at + PB_STATE, USED_TAG);
  memory.write32(at + PB_SIZE, 64);
  write64(memory, at + PB_PARENT, firstBucket(heap));
  write64(memory, at + PB_PREV, prev);
  write64(memory, at + PB_NEXT, next);
}

describe("pointers the heap did not hand out", () => {
  it("rejects a ROCK header forged inside a block", () => {
    const env = flatBucketHeap();
    const { heap } = env;
    const block = heap.kmalloc(2048);
    const forged = block + 512; // a 64-byte granule inside the block's data
    forgeHeader(env, forged, block - 128, block + 2048);
    const fake = forged + 128;
    expect(heap.heap_size(fake)).toBe(0);
    expect(codeOf(() => heap.heap_free(fake))).toBe("EFAULT");
    expect(messageOf(() => heap.heap_free(fake))).toContain(hex(fake));
    expect(codeOf(() => heap.krealloc(fake, 10))).toBe("EFAULT");
    expect(codeOf(() => heap.pebbleName(fake))).toBe("EFAULT");
    expect(heap.heap_size(block)).toBe(2048);
    expect(heap.stats().liveBlocks).toBe(1);
    heap.check();
  });

  it("rejects a forged header where a freed pebble's header used to be", () => {
    const env = flatBucketHeap();
    const { heap } = env;
    const old = heap.kmalloc(100);
    heap.kfree(old);
    const cover = heap.kmalloc(1000); // reuses the space: the old header is now in its data
    expect(cover).toBe(old);
    const reused = heap.kmalloc(100);
    // Put a perfect header 128 bytes before an address inside `cover`.
    forgeHeader(env, cover + 256, cover - 128, reused - 128);
    expect(heap.heap_size(cover + 384)).toBe(0);
    expect(codeOf(() => heap.heap_free(cover + 384))).toBe("EFAULT");
    heap.check();
  });

  it("tells freed, interior, header, metadata and foreign pointers apart", () => {
    const { heap } = flatBucketHeap();
    const a = heap.kmalloc(500);
    const b = heap.kmalloc(500);
    heap.kmalloc(64);
    heap.kfree(a);
    const bucket = firstBucket(heap);
    const cases: [number, string, string][] = [
      [a, "EDOUBLEFREE", "already freed"],
      [a + 64, "EDOUBLEFREE", "free pebble"],
      [b + 8, "EFAULT", "8 bytes into the block"],
      [b - 64, "EFAULT", "in the header of pebble"],
      [bucket + 64, "EFAULT", "metadata of bucket"],
      [2 ** 40, "EFAULT", "not in this heap"],
      [8, "EFAULT", "not in this heap"],
    ];
    for (const [ptr, code, words] of cases) {
      expect(heap.heap_size(ptr), hex(ptr)).toBe(0);
      expect(
        codeOf(() => heap.heap_free(ptr)),
        hex(ptr),
      ).toBe(code);
      const message = messageOf(() => heap.heap_free(ptr));
      expect(message).toContain(words);
      expect(message).toContain(String(ptr));
    }
    expect(codeOf(() => heap.heap_free(-64))).toBe("EINVAL");
    expect(codeOf(() => heap.heap_free(0))).toBe("none");
    expect(heap.stats()).toMatchObject({ liveBlocks: 2, frees: 1 });
    heap.check();
  });

  it("reports ECORRUPT when the bitmap marks a header whose magic was overwritten", () => {
    const { heap, memory } = flatBucketHeap();
    const a = heap.kmalloc(100);
    memory.write32(a - 128, 0x12345678);
    expect(heap.heap_size(a)).toBe(0);
    expect(codeOf(() => heap.heap_free(a))).toBe("ECORRUPT");
    expect(codeOf(() => heap.check())).toBe("ECORRUPT");
  });
});

describe("the free-pebble index", () => {
  it("is a used pebble of the first bucket that no pointer call accepts", () => {
    const { heap } = flatBucketHeap();
    const a = heap.kmalloc(100);
    const line = heap
      .dump()
      .split("\n")
      .find((l) => l.includes(`name "${INDEX_NAME}"`))!;
    const index = Number(/data (0x[0-9a-f]+)/.exec(line)![1]);
    expect(heap.heap_size(index)).toBe(0);
    expect(codeOf(() => heap.heap_free(index))).toBe("EFAULT");
    expect(messageOf(() => heap.kfree(index))).toContain(hex(index));
    expect(codeOf(() => heap.krealloc(index, 10))).toBe("EFAULT");
    expect(codeOf(() => heap.pebbleName(index))).toBe("EFAULT");
    heap.check();
    expect(heap.stats().liveBlocks).toBe(1);
    heap.kfree(a);
    heap.check();
  });
});
