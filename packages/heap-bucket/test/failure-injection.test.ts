import { describe, expect, it } from "vitest";
import { FAILURE_MODES, FailingPageSource, FlatMemory, FlatPageSource } from "@allockit/core";
import { BUCKET_FLAGS, BucketHeap } from "../src/index.js";
import { KiB, MiB, hasPattern, writePattern } from "./helpers.js";

const { PHYSICAL, CLEAR, LOW16MEG, LOW4GIG } = BUCKET_FLAGS;

type Operation =
  | { op: "alloc"; size: number; align: number; flags: number }
  | { op: "free"; pick: number }
  | { op: "realloc"; pick: number; size: number };

/** A fixed script (a small linear congruential generator) that makes many bucket requests. */
function script(length: number): Operation[] {
  let state = 12345;
  const below = (n: number): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  const size = (): number =>
    [() => 1 + below(300), () => 1000 + below(4000), () => 70 * KiB + below(80 * KiB)][below(3)]!();
  const operations: Operation[] = [];
  while (operations.length < length) {
    const roll = below(10);
    if (roll < 5) {
      const align = [0, 0, 64, 4096, 65_536][below(5)]!;
      const flags = [0, 0, PHYSICAL, LOW16MEG, LOW4GIG | PHYSICAL, CLEAR][below(6)]!;
      operations.push({ op: "alloc", size: size(), align, flags });
    } else if (roll < 8) operations.push({ op: "free", pick: below(64) });
    else operations.push({ op: "realloc", pick: below(64), size: size() });
  }
  return operations;
}

interface Live {
  ptr: number;
  length: number;
  seed: number;
}

/** Runs the script, checking the heap and every live block after each step. */
function run(heap: BucketHeap, memory: FlatMemory, operations: Operation[]): number {
  const live: Live[] = [];
  let seeds = 0;
  let failures = 0;
  for (const operation of operations) {
    if (operation.op === "alloc") {
      const ptr = heap.kmalloc(operation.size, operation.align, operation.flags);
      if (ptr === 0) failures++;
      else {
        writePattern(memory, ptr, operation.size, ++seeds);
        live.push({ ptr, length: operation.size, seed: seeds });
      }
    } else if (live.length > 0) {
      const index = operation.pick % live.length;
      const block = live[index]!;
      if (operation.op === "free") {
        heap.kfree(block.ptr);
        live.splice(index, 1);
      } else {
        const moved = heap.krealloc(block.ptr, operation.size);
        if (moved === 0) failures++;
        else {
          expect(
            hasPattern(memory, moved, Math.min(block.length, operation.size), block.seed),
          ).toBe(true);
          writePattern(memory, moved, operation.size, ++seeds);
          live[index] = { ptr: moved, length: operation.size, seed: seeds };
        }
      }
    }
    heap.check();
    for (const block of live)
      expect(hasPattern(memory, block.ptr, block.length, block.seed)).toBe(true);
    expect(heap.stats().liveBlocks).toBe(live.length);
  }
  for (const block of live) heap.kfree(block.ptr);
  heap.check();
  return failures;
}

describe("failure injection: any page request may fail", () => {
  const operations = script(80);
  const build = (): { heap: BucketHeap; memory: FlatMemory; source: FailingPageSource } => {
    const memory = new FlatMemory(48 * MiB);
    const source = new FailingPageSource(new FlatPageSource(memory));
    return { heap: new BucketHeap(source), memory, source };
  };

  const dry = build();
  dry.source.disarm();
  const cleanFailures = run(dry.heap, dry.memory, operations);
  const requests = dry.source.requests;

  it("makes many page requests and none fails when nothing is injected", () => {
    expect(cleanFailures).toBe(0);
    expect(requests).toBeGreaterThan(10);
    expect(dry.source.stats().pagesInUse).toBe(17);
  });

  it.each(FAILURE_MODES)("stays consistent when request N fails (mode %s), for every N", (mode) => {
    for (let index = 0; index < requests; index++) {
      const { heap, memory, source } = build();
      source.arm(index, mode);
      const failures = run(heap, memory, operations);
      expect(source.tripped).toBe(true);
      expect(failures).toBeGreaterThan(0);
      expect(heap.stats()).toMatchObject({ liveBlocks: 0, liveBytes: 0, failedAllocs: failures });
      expect(source.stats().pagesInUse).toBe(17);
    }
  });
});
