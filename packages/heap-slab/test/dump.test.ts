import { describe, expect, it } from "vitest";
import { SIZE_CLASSES, SLABINFO_HEADER, formatSlabinfoRow } from "@allockit/heap-slab";
import { flatHeap } from "./helpers.js";

/** The numeric columns of a slabinfo text row, by name. */
function parseRow(line: string): { name: string; numbers: number[] } {
  const [name, ...rest] = line.split(/\s+/);
  return { name: name!, numbers: rest.filter((f) => /^\d+$/.test(f)).map(Number) };
}

describe("dump()", () => {
  it("prints /proc/slabinfo-style text: version line, column header, one row per cache", () => {
    const { heap } = flatHeap();
    const inode = heap.createCache("inode_cache", 600, { ctor: () => undefined });
    heap.cacheAlloc(inode);
    heap.heap_alloc(40);
    heap.heap_alloc(20_000);
    const text = heap.dump();
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe("slabinfo - version: 2.1");
    expect(lines[1]).toMatch(
      /^# name\s+<active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables/,
    );
    expect(`${lines[0]}\n${lines[1]}`).toBe(SLABINFO_HEADER);
    const names = lines.slice(2, -1).map((line) => parseRow(line).name);
    expect(names).toEqual([
      "slab-headers",
      ...SIZE_CLASSES.map((size) => `kmalloc-${size}`),
      "inode_cache",
      "page-runs",
    ]);
    expect(lines.at(-1)).toMatch(
      new RegExp(`^# totals: ${SIZE_CLASSES.length + 2} caches, .* 1 page runs \\(5 pages\\)`),
    );
  });

  it("shows the same numbers as slabinfo()", () => {
    const { heap } = flatHeap();
    const cache = heap.createCache("obj", 100);
    for (let i = 0; i < 50; i++) heap.cacheAlloc(cache);
    for (let i = 0; i < 30; i++) heap.heap_alloc(i * 50);
    const rows = heap.slabinfo();
    const lines = heap.dump().trimEnd().split("\n").slice(2, -1);
    expect(lines).toHaveLength(rows.length);
    rows.forEach((row, i) => {
      expect(lines[i]).toBe(formatSlabinfoRow(row));
      const { name, numbers } = parseRow(lines[i]!);
      expect(name).toBe(row.name);
      // active_objs num_objs objsize objperslab pagesperslab : tunables 0 0 0 : slabdata ...
      expect(numbers.slice(0, 5)).toEqual([
        row.activeObjs,
        row.numObjs,
        row.objSize,
        row.objPerSlab,
        row.pagesPerSlab,
      ]);
      expect(numbers.slice(8, 10)).toEqual([row.activeSlabs, row.numSlabs]);
      expect(numbers.slice(11, 14)).toEqual([row.emptySlabs, row.colours, row.offSlab ? 1 : 0]);
    });
    const obj = rows.find((row) => row.name === "obj")!;
    expect(obj).toMatchObject({ activeObjs: 50, objSize: 100, kind: "cache", offSlab: false });
    expect(obj.numObjs).toBe(obj.numSlabs * obj.objPerSlab);
  });

  it("reads metadata only: stats, slabinfo and memory are unchanged", () => {
    const { heap, memory } = flatHeap();
    for (let i = 0; i < 20; i++) heap.heap_alloc(i * 100);
    const before = memory.readBytes(0, 256 * 1024);
    const stats = heap.stats();
    heap.dump();
    expect(heap.stats()).toEqual(stats);
    expect(memory.readBytes(0, 256 * 1024)).toEqual(before);
  });

  it("counts constructor calls, destructor calls and reaped slabs", () => {
    const { heap } = flatHeap({ keepEmptySlabs: 0 });
    const cache = heap.createCache("counted", 512, {
      ctor: () => undefined,
      dtor: () => undefined,
    });
    const obj = heap.cacheAlloc(cache);
    heap.cacheFree(cache, obj);
    const row = heap.slabinfo().find((r) => r.name === "counted")!;
    expect(row).toMatchObject({
      ctorCalls: 8,
      dtorCalls: 8,
      slabsCreated: 1,
      slabsReaped: 1,
      numSlabs: 0,
    });
    const line = heap
      .dump()
      .split("\n")
      .find((l) => l.startsWith("counted"))!;
    expect(line).toMatch(/: heap-slab\s+0\s+1 1\s+8\s+8\s+1$/);
  });
});
