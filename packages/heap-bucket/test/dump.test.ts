import { describe, expect, it } from "vitest";
import { hex } from "@allockit/core";
import { BUCKET_FLAGS } from "../src/index.js";
import { flatBucketHeap } from "./helpers.js";

const BUCKET_LINE =
  /^bucket (0x[0-9a-f]+) size (\d+) \((\d+) pages\) flags (\S+) pebbles (\d+) \((\d+) free\) largest free (\d+)$/;
const PEBBLE_LINE =
  /^ {2}pebble (0x[0-9a-f]+) data (0x[0-9a-f]+) size (\d+) (USED|FREE) flags (\S+) align (\d+) name ("[^"]*") parent (0x[0-9a-f]+) prev (0x[0-9a-f]+) next (0x[0-9a-f]+)$/;

describe("dump()", () => {
  it("prints one line per bucket and one indented line per pebble, links included", () => {
    const { heap } = flatBucketHeap();
    const a = heap.kmalloc(100, 0, BUCKET_FLAGS.CLEAR, "alpha");
    const b = heap.kmalloc(5000, 4096, 0, "beta");
    const c = heap.kmalloc(10, 0, BUCKET_FLAGS.LOW1MEG, "low");
    heap.kfree(a);
    const lines = heap.dump().split("\n");
    const stats = heap.stats();
    expect(lines).toHaveLength(stats.extra!.buckets! + stats.extra!.pebbles!);

    const first = BUCKET_LINE.exec(lines[0]!)!;
    expect(first.slice(2)).toEqual(["69632", "17", "VIRTUAL|PERSISTENT", "4", "2", "56960"]);
    expect(lines[1]).toBe(
      `  pebble ${hex(Number(first[1]) + 256)} data ${hex(Number(first[1]) + 384)} size 3584 FREE flags VIRTUAL align 64 name "" parent ${first[1]} prev 0x0 next ${hex(b - 128)}`,
    );
    expect(lines[2]).toBe(
      `  pebble ${hex(b - 128)} data ${hex(b)} size 5056 USED flags VIRTUAL align 4096 name "beta" parent ${first[1]} prev ${hex(Number(first[1]) + 256)} next ${hex(b + 5056)}`,
    );
    const low = BUCKET_LINE.exec(lines[5]!)!; // after the first bucket's free-index pebble
    expect(low[4]).toBe("PHYSICAL|LOW1MEG");
    expect(lines[6]).toContain(
      `data ${hex(c)} size 64 USED flags PHYSICAL|LOW1MEG align 64 name "low"`,
    );

    // Every pebble line parses, its parent is the bucket above it and the links chain up.
    let bucket = "";
    let prev = "0x0";
    let expectedNext = "";
    for (const line of lines) {
      const bucketMatch = BUCKET_LINE.exec(line);
      if (bucketMatch) {
        bucket = bucketMatch[1]!;
        prev = "0x0";
        continue;
      }
      const m = PEBBLE_LINE.exec(line)!;
      expect(m, line).not.toBeNull();
      expect(m[8]).toBe(bucket);
      expect(m[9]).toBe(prev);
      if (prev !== "0x0") expect(m[1]).toBe(expectedNext);
      prev = m[1]!;
      expectedNext = m[10]!;
    }
  });

  it("only reads: the heap's stats and memory are the same after a dump", () => {
    const { heap, memory } = flatBucketHeap({ memoryBytes: 1024 * 1024 });
    heap.kmalloc(300, 0, 0, "x");
    heap.kfree(heap.kmalloc(200));
    const stats = heap.stats();
    const bytes = memory.readBytes(0, memory.size);
    heap.dump();
    expect(heap.stats()).toEqual(stats);
    expect(Buffer.compare(memory.readBytes(0, memory.size), bytes)).toBe(0);
  });
});
