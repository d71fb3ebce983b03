import { AllocatorError, PAGE_SIZE } from "@allockit/core";
import { describe, expect, it } from "vitest";
import { formatAddress } from "../src/index.js";
import { flatGuard, thrown } from "./helpers.js";
import { bootMachine, guardOnMachine } from "./machine.js";

describe("dump()", () => {
  it("prints a summary, then one line per live object and per quarantined one", () => {
    const { heap } = flatGuard({ quarantinePages: 8 });
    const a = heap.guardAlloc(24, 0, { tag: "rx ring" });
    const b = heap.guardAlloc(5000, 64, { mode: "left" });
    const c = heap.heap_alloc(100, 0);
    heap.heap_free(c);
    const before = heap.stats();
    const lines = heap.dump().trimEnd().split("\n");
    expect(lines[0]).toBe(
      "heap-guard: 2 live object(s) holding 4.91 KiB, 1 quarantined (1 of 8 pages), 20 KiB from the page source (table 1 page(s), ring 1), guard pages off",
    );
    expect(lines.slice(1)).toEqual([
      `  live  #1 ${formatAddress(a)} size 24 align 16 right canary run ${formatAddress(a - (a % PAGE_SIZE))} +1p "rx ring"`,
      `  live  #2 ${formatAddress(b)} size 5000 align 64 left canary run ${formatAddress(b)} +2p`,
      `  freed #3 ${formatAddress(c)} size 100 align 16 right canary run ${formatAddress(c - (c % PAGE_SIZE))} +1p freed as free #1`,
    ]);
    // Reading only: nothing changed.
    expect(heap.stats()).toEqual(before);
  });

  it("prints canonical kernel addresses and says guard pages are on, on the machine", () => {
    const { heap } = guardOnMachine(bootMachine());
    const p = heap.guardAlloc(PAGE_SIZE, 0, { tag: "page" });
    const text = heap.dump();
    expect(text).toContain("guard pages on");
    expect(text).toContain(`live  #1 ${formatAddress(p)} size 4096 align 16 right run`);
    expect(formatAddress(p)).toMatch(/^0xffff8/);
    expect(text).not.toContain(" canary run"); // a full page has no room for one
  });

  it("refuses to print corrupted metadata (it checks first)", () => {
    const { heap, source } = flatGuard();
    const p = heap.heap_alloc(24, 0);
    source.memory.write8(p + 30, 1);
    expect((thrown(() => heap.dump()) as AllocatorError).code).toBe("ECORRUPT");
  });
});
