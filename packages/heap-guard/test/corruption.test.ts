import { AllocatorError, PAGE_SIZE, isAllocatorError } from "@allockit/core";
import type { FlatMemory } from "@allockit/core";
import { describe, expect, it } from "vitest";
import type { GuardHeap } from "../src/index.js";
import { flatGuard, thrown } from "./helpers.js";

/**
 * Stray writes over the guard heap's metadata (through memory, as a buggy kernel would make
 * them) are caught by check() as ECORRUPT. The metadata is found the way a debugger would:
 * by its magic words in the pages the heap holds.
 */

const LIVE = 0x564c4847; // "GHLV"
const QUARANTINED = 0x55514847; // "GHQU"
const TABLE = 0x42544847; // "GHTB"
const RING = 0x52514847; // "GHQR"

/** Addresses of every 4-byte-aligned occurrence of `word` in memory. */
function findWords(memory: FlatMemory, word: number): number[] {
  const view = new Uint32Array(memory.buffer);
  const found: number[] = [];
  for (let i = 0; i < view.length; i++) if (view[i] === word) found.push(memory.base + i * 4);
  return found;
}

/** The record (live or quarantined) describing the object at `ptr`. */
function recordOf(memory: FlatMemory, state: number, ptr: number): number {
  const record = findWords(memory, state).find(
    (at) => memory.read32(at + 8) === ptr && at % 64 === 0,
  );
  if (record === undefined) throw new Error(`no record for ${ptr}`);
  return record;
}

/** Slot `index` of the one-page record table at `table` (64 buckets, records from +320). */
function recordAt(table: number, index: number): number {
  return table + 320 + index * 64;
}

interface Fixture {
  heap: GuardHeap;
  memory: FlatMemory;
  live: number[];
  freed: number[];
}

function fixture(): Fixture {
  const { heap, source } = flatGuard({ quarantinePages: 16 });
  const live = [
    heap.guardAlloc(24, 0, { tag: "alpha" }),
    heap.guardAlloc(5000, 64, { mode: "left", tag: "beta" }),
  ];
  const freed = [heap.guardAlloc(40, 0, { tag: "gamma" }), heap.heap_alloc(8, 0)];
  const spare = heap.heap_alloc(8, 0);
  for (const ptr of freed) heap.heap_free(ptr);
  heap.heap_free(spare); // leaves a free slot in the table
  heap.check();
  return { heap, memory: source.memory, live, freed };
}

const corruptions: [string, (f: Fixture) => void][] = [
  ["a live record's size", (f) => f.memory.write32(recordOf(f.memory, LIVE, f.live[0]!) + 4, 25)],
  [
    "a live record's pointer",
    (f) => f.memory.write32(recordOf(f.memory, LIVE, f.live[0]!) + 8, f.live[0]! + 16),
  ],
  [
    "a live record's sequence number",
    (f) => f.memory.write32(recordOf(f.memory, LIVE, f.live[1]!) + 16, 9),
  ],
  [
    "a live record's mode bit",
    (f) => {
      const flags = recordOf(f.memory, LIVE, f.live[1]!) + 20;
      f.memory.write32(flags, f.memory.read32(flags) ^ 1);
    },
  ],
  ["a live record's tag", (f) => f.memory.write8(recordOf(f.memory, LIVE, f.live[0]!) + 32, 0x41)],
  [
    "a live record's state",
    (f) => f.memory.write32(recordOf(f.memory, LIVE, f.live[0]!), 0xdeadbeef),
  ],
  [
    "a live record turned free",
    (f) => f.memory.write32(recordOf(f.memory, LIVE, f.live[0]!), 0x52464847),
  ],
  ["the table magic", (f) => f.memory.write32(findWords(f.memory, TABLE)[0]!, 0)],
  ["the table capacity", (f) => f.memory.write32(findWords(f.memory, TABLE)[0]! + 8, 3)],
  [
    "a hash bucket",
    (f) => {
      const buckets = findWords(f.memory, TABLE)[0]! + 64;
      for (let b = 0; b < 64; b++)
        if (f.memory.read32(buckets + 4 * b) !== 0) f.memory.write32(buckets + 4 * b, 0);
    },
  ],
  [
    "a free-slot link that loops",
    (f) => {
      const table = findWords(f.memory, TABLE)[0]!;
      const free = findWords(f.memory, 0x52464847).find((at) => at % 64 === 0)!;
      f.memory.write32(free + 24, (free - recordAt(table, 0)) / 64 + 1);
    },
  ],
  [
    "a quarantined record's size",
    (f) => f.memory.write32(recordOf(f.memory, QUARANTINED, f.freed[0]!) + 4, 4096 * 3),
  ],
  [
    "a quarantined record's tag",
    (f) => f.memory.write8(recordOf(f.memory, QUARANTINED, f.freed[0]!) + 33, 0x7a),
  ],
  [
    "a quarantined record's state",
    (f) => f.memory.write32(recordOf(f.memory, QUARANTINED, f.freed[1]!), 1),
  ],
  ["the quarantine ring magic", (f) => f.memory.write32(findWords(f.memory, RING)[0]!, 0x11)],
  ["the slack of a live object", (f) => f.memory.write8(f.live[0]! - (f.live[0]! % PAGE_SIZE), 0)],
];

describe("check() catches stray writes over metadata", () => {
  it.each(corruptions)("%s", (_, corrupt) => {
    const f = fixture();
    corrupt(f);
    const error = thrown(() => f.heap.check());
    expect(isAllocatorError(error)).toBe(true);
    expect((error as AllocatorError).code).toBe("ECORRUPT");
  });

  it("heap_free and heap_size survive a hash chain that loops", () => {
    const f = fixture();
    const table = findWords(f.memory, TABLE)[0]!;
    // Every non-empty bucket's first record links back to itself: cycles, not lists.
    for (let b = 0; b < 64; b++) {
      const head = f.memory.read32(table + 64 + 4 * b);
      if (head !== 0) f.memory.write32(recordAt(table, head - 1) + 24, head);
    }
    expect(f.heap.heap_size(f.live[0]! + 16)).toBe(0);
    expect(isAllocatorError(thrown(() => f.heap.heap_free(f.live[0]! + 16)))).toBe(true);
    expect((thrown(() => f.heap.check()) as AllocatorError).code).toBe("ECORRUPT");
  });
});
