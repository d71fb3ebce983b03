import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BucketHeap } from "../src/index.js";
import { INDEX_BYTES } from "../src/layout.js";
import { KiB, flatBucketHeap, pebbleLines } from "./helpers.js";

interface PebbleInfo {
  data: number;
  size: number;
  free: boolean;
}

function pebbles(heap: BucketHeap): PebbleInfo[] {
  return pebbleLines(heap).map((line) => {
    const match = /data (0x[0-9a-f]+) size (\d+) (USED|FREE)/.exec(line)!;
    return { data: Number(match[1]), size: Number(match[2]), free: match[3] === "FREE" };
  });
}

/** Two free pebbles (1024 and 320 bytes) separated by used ones, the larger first in the list. */
function twoHoles(fit: "first" | "best"): { heap: BucketHeap; big: number; small: number } {
  const { heap } = flatBucketHeap({ fit });
  const big = heap.kmalloc(1000);
  heap.kmalloc(64);
  const small = heap.kmalloc(300);
  heap.kmalloc(64);
  heap.kfree(small);
  heap.kfree(big);
  return { heap, big, small };
}

describe("fit policies", () => {
  it("first fit takes an exact fit, else the first pebble of the next non-empty size bin", () => {
    const { heap, big, small } = twoHoles("first");
    // 256 bytes: no free pebble of exactly 256, so the 320-byte bin (the next one) serves it.
    expect(heap.kmalloc(200)).toBe(small);
    // 1024 bytes: an exact fit.
    expect(heap.kmalloc(1000)).toBe(big);
    heap.check();
  });

  it("in a bin of a size range, first fit takes the newest pebble that fits, best fit the smallest", () => {
    for (const fit of ["first", "best"] as const) {
      const { heap } = flatBucketHeap({ fit });
      // Two free pebbles of 5120 and 6080 bytes (both in the 5120 .. 6143 bin), the larger freed last.
      const smaller = heap.kmalloc(5120);
      heap.kmalloc(64);
      const larger = heap.kmalloc(6080);
      heap.kmalloc(64);
      heap.kfree(smaller);
      heap.kfree(larger);
      expect(heap.kmalloc(5100)).toBe(fit === "first" ? larger : smaller);
      heap.check();
    }
  });

  it("best fit takes the smallest free pebble that fits (first fit would not)", () => {
    const { heap, small } = twoHoles("best");
    expect(heap.kmalloc(200)).toBe(small);
    heap.check();
  });

  it("best fit picks the smallest fitting free pebble of the bucket every time (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.boolean()), {
          minLength: 5,
          maxLength: 80,
        }),
        (ops) => {
          const { heap } = flatBucketHeap({ fit: "best", bucketKiB: 1024 });
          const live: number[] = [];
          for (const [size, free] of ops) {
            if (free && live.length > 0) {
              heap.kfree(live.splice(size % live.length, 1)[0]!);
              continue;
            }
            const need = Math.max(64, Math.ceil(size / 64) * 64);
            const fitting = pebbles(heap).filter((p) => p.free && p.size >= need);
            const ptr = heap.kmalloc(size);
            live.push(ptr);
            // One large bucket holds everything, so the choice is always inside it.
            const smallest = Math.min(...fitting.map((p) => p.size));
            const chosen = fitting.find((p) => ptr >= p.data - 128 && ptr < p.data + p.size);
            expect(chosen?.size).toBe(smallest);
          }
          heap.check();
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("the bucket's largest free pebble", () => {
  it("follows allocations, frees and merges", () => {
    const { heap } = flatBucketHeap();
    const largest = (): number => heap.stats().extra!.largestFree!;
    const space = largest();
    // 17 pages, less the bucket header and bitmap (256 bytes), the pebble header and the
    // free-index pebble at the end of the first bucket.
    expect(space).toBe(17 * 4096 - 256 - 128 - (128 + INDEX_BYTES));
    const a = heap.kmalloc(40 * KiB);
    const b = heap.kmalloc(1000);
    expect(largest()).toBe(space - (40 * KiB + 128) - (1024 + 128));
    heap.kfree(a); // the 40 KiB hole is now the largest
    expect(largest()).toBe(40 * KiB);
    const c = heap.kmalloc(30 * KiB); // carved from the hole: the tail pebble is the largest again
    expect(c).toBe(a);
    expect(largest()).toBe(space - (40 * KiB + 128) - (1024 + 128));
    heap.kfree(b); // merges with the tail
    expect(largest()).toBe(space - (30 * KiB + 128));
    heap.kfree(c); // everything merges into one pebble
    expect(largest()).toBe(space);
    expect(heap.dump().split("\n")[0]).toContain(`largest free ${space}`);
    heap.check();
  });

  it("stays the largest free pebble over random operations (check verifies it)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 9000 }), fc.nat({ max: 3 })), {
          maxLength: 100,
        }),
        fc.constantFrom<"first" | "best">("first", "best"),
        (ops, fit) => {
          const { heap } = flatBucketHeap({ fit });
          const live: number[] = [];
          for (const [size, op] of ops) {
            if (op === 0 && live.length > 0) heap.kfree(live.splice(size % live.length, 1)[0]!);
            else if (op === 1 && live.length > 0) {
              const i = size % live.length;
              const moved = heap.krealloc(live[i]!, size);
              // krealloc(p, 0) frees p; otherwise 0 means it failed and p is still live.
              if (size === 0) live.splice(i, 1);
              else if (moved !== 0) live[i] = moved;
            } else live.push(heap.kmalloc(size, op === 3 ? 512 : 0));
            heap.check();
            const lines = heap.dump().split("\n");
            for (const line of lines.filter((l) => l.startsWith("bucket"))) {
              const at = lines.indexOf(line);
              const own: number[] = [];
              for (let k = at + 1; k < lines.length && lines[k]!.startsWith("  "); k++) {
                const m = /size (\d+) FREE/.exec(lines[k]!);
                if (m) own.push(Number(m[1]));
              }
              expect(line).toContain(`largest free ${own.length === 0 ? 0 : Math.max(...own)}`);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
