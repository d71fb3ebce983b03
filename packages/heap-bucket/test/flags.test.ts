import { describe, expect, it } from "vitest";
import { FlatMemory, FlatPageSource, GiB } from "@allockit/core";
import type { FrameConstraints, PageSource } from "@allockit/core";
import { BUCKET_FLAGS, BucketHeap, NAME_MAX, flagNames, normalizeFlags } from "../src/index.js";
import { KiB, MiB, codeOf, flatBucketHeap, messageOf } from "./helpers.js";

const { VIRTUAL, PHYSICAL, CLEAR, LOW1MEG, LOW16MEG, LOW4GIG, PERSISTENT } = BUCKET_FLAGS;

/** A flat page source that declares only some physical constraints (or none). */
function limitedSource(constraints?: (keyof FrameConstraints)[]): PageSource {
  const flat = new FlatPageSource(new FlatMemory(8 * MiB));
  return {
    pageSize: flat.pageSize,
    memory: flat.memory,
    ...(constraints === undefined ? {} : { physicalConstraints: new Set(constraints) }),
    allocPages: (count, options) => flat.allocPages(count, options),
    freePages: (addr, count) => flat.freePages(addr, count),
    stats: () => flat.stats(),
  };
}

describe("flag validation", () => {
  it("normalizes flags: no kind means VIRTUAL, LOW* implies PHYSICAL, the tightest limit wins", () => {
    expect(normalizeFlags(0, "t")).toBe(VIRTUAL);
    expect(normalizeFlags(CLEAR, "t")).toBe(VIRTUAL | CLEAR);
    expect(normalizeFlags(LOW4GIG, "t")).toBe(PHYSICAL | LOW4GIG);
    expect(normalizeFlags(LOW16MEG | LOW1MEG | PERSISTENT, "t")).toBe(
      PHYSICAL | LOW1MEG | PERSISTENT,
    );
    expect(flagNames(PHYSICAL | LOW1MEG)).toBe("PHYSICAL|LOW1MEG");
  });

  it("refuses VIRTUAL|PHYSICAL, VIRTUAL with a LOW* flag and unknown bits with EINVAL naming them", () => {
    const { heap } = flatBucketHeap();
    const live = heap.kmalloc(100);
    const stats = heap.stats();
    for (const flags of [
      VIRTUAL | PHYSICAL,
      VIRTUAL | LOW16MEG,
      0x80,
      0x100,
      -1,
      1.5,
      Number.NaN,
    ]) {
      expect(
        codeOf(() => heap.kmalloc(64, 0, flags)),
        `flags ${flags}`,
      ).toBe("EINVAL");
      expect(messageOf(() => heap.kmalloc(64, 0, flags))).toContain(String(flags));
    }
    expect(heap.stats()).toEqual(stats);
    expect(heap.heap_size(live)).toBe(128);
    heap.check();
  });

  it("raises EUNSUPPORTED when the page source cannot give physically contiguous pages", () => {
    const heap = new BucketHeap(limitedSource());
    expect(codeOf(() => heap.kmalloc(64, 0, PHYSICAL))).toBe("EUNSUPPORTED");
    expect(messageOf(() => heap.kmalloc(64, 0, LOW16MEG))).toContain("LOW16MEG");
    expect(heap.kmalloc(64, 0, VIRTUAL)).not.toBe(0);
    heap.check();
    // Contiguous runs but no "below": PHYSICAL works, a LOW* limit does not.
    const partial = new BucketHeap(limitedSource(["zone"]));
    expect(partial.kmalloc(64, 0, PHYSICAL)).not.toBe(0);
    expect(messageOf(() => partial.kmalloc(64, 0, LOW4GIG | PHYSICAL))).toContain("LOW4GIG");
    partial.check();
  });
});

describe("physical buckets", () => {
  it("puts LOW1MEG, LOW16MEG and LOW4GIG blocks below their limits, once low memory is free", () => {
    const { heap, source } = flatBucketHeap({ memoryBytes: 32 * MiB });
    // Fill memory from the bottom with 1 MiB blocks (a bucket each) until one lands above 16 MiB.
    const fillers: number[] = [];
    for (;;) {
      const ptr = heap.kmalloc(MiB);
      fillers.push(ptr);
      if (ptr > 16 * MiB) break;
    }
    // Nothing is left below 16 MiB: the constrained requests find no pages there.
    expect(heap.kmalloc(100, 0, LOW16MEG)).toBe(0);
    expect(heap.kmalloc(100, 0, LOW1MEG)).toBe(0);
    const below4g = heap.kmalloc(100, 0, LOW4GIG | PHYSICAL, "dma32");
    expect(below4g).not.toBe(0);
    expect(below4g + 100).toBeLessThanOrEqual(4 * GiB);

    // Free a block below 1 MiB and one in the middle: their buckets go back to the source.
    heap.kfree(fillers[0]!);
    heap.kfree(fillers[5]!);
    const dma = heap.kmalloc(10 * KiB, 0, LOW16MEG, "dma");
    const isa = heap.kmalloc(1000, 0, LOW1MEG, "isa");
    expect(dma + heap.heap_size(dma)).toBeLessThanOrEqual(16 * MiB);
    expect(isa + heap.heap_size(isa)).toBeLessThanOrEqual(MiB);
    // Identity-mapped flat memory: the pages behind each block are contiguous.
    for (let page = 0; page < 3; page++)
      expect(source.translate(dma + page * 4096)).toBe(dma + page * 4096);
    expect(heap.flagsOf(dma)).toBe(PHYSICAL | LOW16MEG);
    heap.check();
  });

  it("serves a request only from a bucket of exactly its kind", () => {
    const { heap } = flatBucketHeap();
    const low1 = heap.kmalloc(64, 0, LOW1MEG);
    const low16 = heap.kmalloc(64, 0, LOW16MEG);
    const physical = heap.kmalloc(64, 0, PHYSICAL);
    const virtual = heap.kmalloc(64);
    const buckets = heap
      .dump()
      .split("\n")
      .filter((line) => line.startsWith("bucket"));
    expect(buckets).toHaveLength(4);
    expect(buckets.map((line) => /flags (\S+)/.exec(line)![1])).toEqual([
      "VIRTUAL|PERSISTENT",
      "PHYSICAL|LOW1MEG",
      "PHYSICAL|LOW16MEG",
      "PHYSICAL",
    ]);
    const bucketOf = (ptr: number): number =>
      heap
        .dump()
        .split("\n")
        .filter((line) => line.startsWith("bucket"))
        .findIndex((line) => {
          const [start, size] = /bucket (0x[0-9a-f]+) size (\d+)/.exec(line)!.slice(1);
          return ptr >= Number(start) && ptr < Number(start) + Number(size);
        });
    expect([low1, low16, physical, virtual].map(bucketOf)).toEqual([1, 2, 3, 0]);
    heap.check();
  });
});

describe("CLEAR, PERSISTENT and the first bucket", () => {
  it("CLEAR zeroes the data; without it old bytes stay", () => {
    const { heap, memory } = flatBucketHeap();
    const dirty = heap.kmalloc(2000);
    memory.fill(dirty, 0xaa, 2048);
    heap.kfree(dirty);
    const plain = heap.kmalloc(2000);
    expect(plain).toBe(dirty);
    expect(memory.read8(plain + 1000)).toBe(0xaa);
    heap.kfree(plain);
    const cleared = heap.kmalloc(2000, 0, CLEAR);
    expect(cleared).toBe(dirty);
    expect([...memory.readBytes(cleared, 2048)].every((byte) => byte === 0)).toBe(true);
  });

  it("keeps a PERSISTENT bucket after its last block is freed, and returns others", () => {
    const { heap, source } = flatBucketHeap();
    const baseline = source.stats().pagesInUse;
    const big = heap.kmalloc(100 * KiB);
    expect(heap.stats().extra!.buckets).toBe(2);
    heap.kfree(big);
    expect(source.stats().pagesInUse).toBe(baseline);
    expect(heap.stats().extra!.buckets).toBe(1);

    const kept = heap.kmalloc(100 * KiB, 0, PERSISTENT);
    const pages = source.stats().pagesInUse;
    heap.kfree(kept);
    expect(source.stats().pagesInUse).toBe(pages);
    expect(heap.stats().extra).toMatchObject({ buckets: 2, persistentBuckets: 2 });
    expect(
      heap
        .dump()
        .split("\n")
        .filter((l) => l.startsWith("bucket") && l.includes("PERSISTENT")),
    ).toHaveLength(2);
    heap.check();
    // The kept bucket serves the next request of its size without new pages.
    expect(heap.kmalloc(100 * KiB)).toBe(kept);
    expect(source.stats().pagesInUse).toBe(pages);
  });

  it("a PERSISTENT request marks the existing bucket it is served from", () => {
    const { heap } = flatBucketHeap();
    const low = heap.kmalloc(64, 0, LOW16MEG);
    heap.kmalloc(64, 0, LOW16MEG | PERSISTENT);
    heap.kfree(low);
    expect(heap.dump()).toContain("flags PHYSICAL|LOW16MEG|PERSISTENT");
  });

  it("creates the first bucket up front and never returns it", () => {
    const { heap, source } = flatBucketHeap();
    expect(source.stats().pagesInUse).toBe(17);
    expect(heap.stats().footprintBytes).toBe(17 * 4096);
    const blocks = Array.from({ length: 400 }, (_, i) => heap.kmalloc(i * 8));
    expect(heap.stats().extra!.buckets).toBeGreaterThan(1);
    for (const ptr of blocks) heap.kfree(ptr);
    expect(source.stats().pagesInUse).toBe(17);
    expect(heap.stats().extra).toMatchObject({ buckets: 1, pebbles: 2 }); // the free pebble and the free-index pebble
    heap.check();
  });

  it("falls back to the smallest bucket that fits when a bucketKiB bucket is refused", () => {
    // 256 KiB buckets take 65 pages; the source allows 40 in all.
    const { heap, source } = flatBucketHeap({ bucketKiB: 256, pageLimit: 40 });
    expect(source.stats().pagesInUse).toBe(17);
    const ptr = heap.kmalloc(1000);
    expect(heap.kmalloc(67 * KiB)).not.toBe(0); // does not fit beside it: a second small bucket
    expect(source.stats().pagesInUse).toBe(34);
    expect(heap.kmalloc(67 * KiB)).toBe(0);
    expect(heap.heap_size(ptr)).toBe(1024);
    heap.check();
  });

  it("throws ENOMEM from the constructor when the first bucket cannot be had", () => {
    const source = new FlatPageSource(new FlatMemory(8 * MiB), { pageLimit: 16 });
    expect(codeOf(() => new BucketHeap(source))).toBe("ENOMEM");
    expect(source.stats().pagesInUse).toBe(0);
  });
});

describe("debug names", () => {
  it("keeps each block's name, shows it in the dump and clears it on free", () => {
    const { heap } = flatBucketHeap();
    const longest = "n".repeat(NAME_MAX);
    const a = heap.kmalloc(100, 0, 0, "e1000 rx ring");
    const b = heap.kmalloc(100, 0, 0, longest);
    const c = heap.heap_alloc(100, 0);
    expect(heap.pebbleName(a)).toBe("e1000 rx ring");
    expect(heap.pebbleName(b)).toBe(longest);
    expect(heap.pebbleName(c)).toBe("");
    expect(heap.dump()).toContain('name "e1000 rx ring"');
    heap.kfree(a);
    expect(heap.dump()).not.toContain("e1000");
    expect(codeOf(() => heap.pebbleName(a))).toBe("EDOUBLEFREE");
  });

  it("refuses names that are too long, not ASCII or not strings, naming them", () => {
    const { heap } = flatBucketHeap();
    const stats = heap.stats();
    for (const name of ["x".repeat(NAME_MAX + 1), "caf\u00e9", "tab\there", "\u{1F600}"]) {
      expect(codeOf(() => heap.kmalloc(64, 0, 0, name))).toBe("EINVAL");
      expect(messageOf(() => heap.kmalloc(64, 0, 0, name))).toContain(JSON.stringify(name));
    }
    expect(codeOf(() => heap.kmalloc(64, 0, 0, 42 as unknown as string))).toBe("EINVAL");
    expect(heap.stats()).toEqual(stats);
    heap.check();
  });
});
