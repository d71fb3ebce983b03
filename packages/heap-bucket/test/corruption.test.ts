import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hex, isAllocatorError } from "@allockit/core";
import { BUCKET_FLAGS, FREE_TAG, USED_TAG } from "../src/index.js";
import {
  BK_BITMAP,
  BK_FIRST,
  BK_FREE_COUNT,
  BK_FREE_HEAD,
  BK_LARGEST,
  BK_MAGIC,
  BK_NEXT,
  BK_PAGES,
  BK_PEBBLES_OFFSET,
  BK_PEBBLE_COUNT,
  BK_PREV,
  BK_SIZE,
  PB_ALIGN,
  PB_FLAGS,
  PB_FREE_NEXT,
  PB_MAGIC,
  PB_NEXT,
  PB_PARENT,
  PB_PREV,
  PB_REQUESTED,
  PB_SIZE,
  PB_STATE,
  write64,
} from "../src/layout.js";
import { codeOf, flatBucketHeap, messageOf } from "./helpers.js";
import type { FlatBucketHeap } from "./helpers.js";

interface Layout {
  buckets: number[];
  /** Pebble headers per bucket, in order, with their state. */
  pebbles: { at: number; used: boolean }[][];
}

/**
 * A heap with two buckets: the first holds a used block, a free hole, a 4096-aligned block
 * (behind a free pad pebble) and the free tail; the second, LOW16MEG, a used block and its tail.
 */
function sample(): FlatBucketHeap & { layout: Layout } {
  const env = flatBucketHeap();
  const { heap } = env;
  heap.kmalloc(100, 0, 0, "a");
  const hole = heap.kmalloc(300);
  heap.kmalloc(200, 0, 0, "c");
  heap.kmalloc(5000, 4096, 0, "aligned");
  heap.kmalloc(64, 0, BUCKET_FLAGS.LOW16MEG, "dma");
  heap.kfree(hole);
  const layout: Layout = { buckets: [], pebbles: [] };
  for (const line of heap.dump().split("\n")) {
    const bucket = /^bucket (0x[0-9a-f]+)/.exec(line);
    if (bucket) {
      layout.buckets.push(Number(bucket[1]));
      layout.pebbles.push([]);
      continue;
    }
    const pebble = /pebble (0x[0-9a-f]+) .* (USED|FREE) /.exec(line)!;
    layout.pebbles.at(-1)!.push({ at: Number(pebble[1]), used: pebble[2] === "USED" });
  }
  return { ...env, layout };
}

function expectCorrupt(env: FlatBucketHeap, at: number): void {
  expect(codeOf(() => env.heap.check())).toBe("ECORRUPT");
  expect(messageOf(() => env.heap.check())).toContain(hex(at));
  expect(codeOf(() => env.heap.dump())).toBe("ECORRUPT");
}

describe("check() finds corrupted metadata", () => {
  it("accepts the intact sample", () => {
    const env = sample();
    env.heap.check();
    expect(env.layout.buckets).toHaveLength(2);
    expect(env.layout.pebbles[0]!.map((p) => p.used)).toEqual([
      true,
      false,
      true,
      false,
      true,
      false,
      true, // the free-pebble index
    ]);
  });

  type Case = [string, (env: ReturnType<typeof sample>) => number];
  const cases: Case[] = [
    [
      "bucket magic",
      ({ memory, layout: { buckets } }) => {
        memory.write32(buckets[0]! + BK_MAGIC, 0x4b435542);
        return buckets[0]!;
      },
    ],
    [
      "bucket size",
      ({ memory, layout: { buckets } }) => {
        memory.write32(buckets[1]! + BK_SIZE, 18 * 4096);
        return buckets[1]!;
      },
    ],
    [
      "bucket pages",
      ({ memory, layout: { buckets } }) => {
        memory.write32(buckets[0]! + BK_PAGES, 16);
        return buckets[0]!;
      },
    ],
    [
      "bucket pebbles offset",
      ({ memory, layout: { buckets } }) => {
        memory.write32(buckets[0]! + BK_PEBBLES_OFFSET, 320);
        return buckets[0]!;
      },
    ],
    [
      "bucket largest free pebble",
      ({ memory, layout: { buckets } }) => {
        memory.write32(buckets[0]! + BK_LARGEST, memory.read32(buckets[0]! + BK_LARGEST) - 64);
        return buckets[0]!;
      },
    ],
    [
      "bucket pebble count",
      ({ memory, layout: { buckets } }) => {
        memory.write32(buckets[0]! + BK_PEBBLE_COUNT, 9);
        return buckets[0]!;
      },
    ],
    [
      "bucket free count",
      ({ memory, layout: { buckets } }) => {
        memory.write32(buckets[0]! + BK_FREE_COUNT, 2);
        return buckets[0]!;
      },
    ],
    [
      "bucket first link",
      ({ memory, layout: { buckets } }) => {
        write64(memory, buckets[0]! + BK_FIRST, buckets[0]! + 512);
        return buckets[0]!;
      },
    ],
    [
      "bucket prev link",
      ({ memory, layout: { buckets } }) => {
        write64(memory, buckets[1]! + BK_PREV, 0);
        return buckets[1]!;
      },
    ],
    [
      "bucket next link to an odd address",
      ({ memory, layout: { buckets } }) => {
        write64(memory, buckets[1]! + BK_NEXT, 0x12345);
        return 0x12345;
      },
    ],
    [
      "bucket next link outside memory",
      ({ memory, layout: { buckets } }) => {
        write64(memory, buckets[1]! + BK_NEXT, 0x7000_0000);
        return 0x7000_0000;
      },
    ],
    [
      "stray bitmap bit",
      ({ memory, layout: { buckets, pebbles } }) => {
        const inside = pebbles[0]![0]!.at + 128; // a granule inside the first block's data
        const granule = (inside - buckets[0]!) / 64;
        const byte = buckets[0]! + BK_BITMAP + (granule >> 3);
        memory.write8(byte, memory.read8(byte) | (1 << (granule & 7)));
        return inside;
      },
    ],
    [
      "missing bitmap bit",
      ({ memory, layout: { buckets, pebbles } }) => {
        const at = pebbles[0]![2]!.at;
        const granule = (at - buckets[0]!) / 64;
        const byte = buckets[0]! + BK_BITMAP + (granule >> 3);
        memory.write8(byte, memory.read8(byte) & ~(1 << (granule & 7)));
        return at;
      },
    ],
    [
      "pebble magic",
      ({ memory, layout: { pebbles } }) => {
        memory.write32(pebbles[0]![2]!.at + PB_MAGIC, 0);
        return pebbles[0]![2]!.at;
      },
    ],
    [
      "pebble state",
      ({ memory, layout: { pebbles } }) => {
        memory.write32(pebbles[0]![0]!.at + PB_STATE, 0xdeadbeef);
        return pebbles[0]![0]!.at;
      },
    ],
    [
      "pebble size",
      ({ memory, layout: { pebbles } }) => {
        const at = pebbles[0]![2]!.at;
        memory.write32(at + PB_SIZE, memory.read32(at + PB_SIZE) + 64);
        return at;
      },
    ],
    [
      "pebble parent link",
      ({ memory, layout: { buckets, pebbles } }) => {
        write64(memory, pebbles[0]![4]!.at + PB_PARENT, buckets[1]!);
        return pebbles[0]![4]!.at;
      },
    ],
    [
      "pebble prev link",
      ({ memory, layout: { pebbles } }) => {
        write64(memory, pebbles[0]![3]!.at + PB_PREV, pebbles[0]![1]!.at);
        return pebbles[0]![3]!.at;
      },
    ],
    [
      "pebble next link",
      ({ memory, layout: { pebbles } }) => {
        write64(memory, pebbles[1]![0]!.at + PB_NEXT, 2 ** 40);
        return pebbles[1]![0]!.at;
      },
    ],
    [
      "pebble alignment",
      ({ memory, layout: { pebbles } }) => {
        memory.write32(pebbles[0]![4]!.at + PB_ALIGN, 3);
        return pebbles[0]![4]!.at;
      },
    ],
    [
      "requested size above the pebble size",
      ({ memory, layout: { pebbles } }) => {
        memory.write32(pebbles[0]![0]!.at + PB_REQUESTED, 129);
        return pebbles[0]![0]!.at;
      },
    ],
    [
      "pebble kind unlike its bucket's",
      ({ memory, layout: { pebbles } }) => {
        memory.write32(pebbles[1]![0]!.at + PB_FLAGS, BUCKET_FLAGS.VIRTUAL);
        return pebbles[1]![0]!.at;
      },
    ],
    [
      "used pebble marked free next to a free one",
      ({ memory, layout: { pebbles } }) => {
        const at = pebbles[0]![0]!.at;
        memory.write32(at + PB_STATE, FREE_TAG);
        memory.write32(at + PB_REQUESTED, 0);
        memory.write32(at + PB_ALIGN, 64);
        return pebbles[0]![1]!.at; // the walk meets two free pebbles in a row here
      },
    ],
    [
      "free-list link to a used pebble",
      ({ memory, layout: { pebbles } }) => {
        write64(memory, pebbles[0]![1]!.at + PB_FREE_NEXT, pebbles[0]![2]!.at);
        return pebbles[0]![2]!.at;
      },
    ],
    [
      "free-list head",
      ({ memory, layout: { buckets } }) => {
        write64(memory, buckets[0]! + BK_FREE_HEAD, 0);
        return buckets[0]!;
      },
    ],
  ];

  it.each(cases)("%s", (_name, corrupt) => {
    const env = sample();
    const at = corrupt(env);
    expectCorrupt(env, at);
  });

  it("finds any change to a checked header field (property)", () => {
    const pebbleFields = [
      PB_MAGIC,
      PB_STATE,
      PB_SIZE,
      PB_PARENT,
      PB_PARENT + 4,
      PB_PREV,
      PB_NEXT,
      PB_NEXT + 4,
    ];
    const bucketFields = [
      BK_MAGIC,
      BK_SIZE,
      BK_PEBBLES_OFFSET,
      BK_LARGEST,
      BK_PEBBLE_COUNT,
      BK_FREE_COUNT,
      BK_FIRST,
      BK_PAGES,
      BK_FREE_HEAD,
      BK_PREV,
    ];
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.nat(),
        fc.nat(),
        fc.oneof(
          fc.constantFrom(0, USED_TAG, FREE_TAG, 64, 0x4255434b),
          fc.nat({ max: 0xffffffff }),
        ),
        (inPebble, which, field, value) => {
          const env = sample();
          const { memory, layout } = env;
          let addr: number;
          if (inPebble) {
            const all = layout.pebbles.flat();
            addr = all[which % all.length]!.at + pebbleFields[field % pebbleFields.length]!;
          } else {
            addr = layout.buckets[which % 2]! + bucketFields[field % bucketFields.length]!;
          }
          fc.pre(memory.read32(addr) !== value);
          memory.write32(addr, value);
          let error: unknown;
          try {
            env.heap.check();
          } catch (thrown) {
            error = thrown;
          }
          expect(isAllocatorError(error) && error.code).toBe("ECORRUPT");
        },
      ),
      { numRuns: 300 },
    );
  });
});
