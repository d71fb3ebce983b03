import { AllocatorError, PAGE_SIZE } from "@allockit/core";
import { describe, expect, it } from "vitest";
import {
  CANARY_BYTES,
  DEFAULT_ALIGN,
  GuardHeap,
  GuardViolation,
  MAX_ALIGN,
  SLACK_BYTE,
  TAG_MAX,
} from "../src/index.js";
import { flatGuard, thrown } from "./helpers.js";
import { bootMachine, guardOnMachine } from "./machine.js";

const runOf = (ptr: number): number => ptr - (ptr % PAGE_SIZE);

describe("GuardHeap placement", () => {
  it("right mode puts the object against the run's end, rounded down to its alignment", () => {
    const { heap } = flatGuard();
    const a = heap.heap_alloc(24, 0);
    expect(a % DEFAULT_ALIGN).toBe(0);
    expect(runOf(a) + PAGE_SIZE - a).toBe(32); // 24 bytes + 8 of alignment slack
    const b = heap.heap_alloc(64, 64);
    expect(runOf(b) + PAGE_SIZE - b).toBe(64);
    const c = heap.heap_alloc(3 * PAGE_SIZE + 5, 0);
    expect(runOf(c) + 4 * PAGE_SIZE - c).toBe(3 * PAGE_SIZE + 16);
    expect([heap.heap_size(a), heap.heap_size(b), heap.heap_size(c)]).toEqual([
      24,
      64,
      3 * PAGE_SIZE + 5,
    ]);
    heap.check();
  });

  it("left mode starts the object at the run, per heap and per allocation", () => {
    const { heap } = flatGuard({ mode: "left" });
    expect(heap.mode).toBe("left");
    const a = heap.heap_alloc(100, 0);
    expect(a % PAGE_SIZE).toBe(0);
    const b = heap.guardAlloc(100, 0, { mode: "right" });
    expect(runOf(b) + PAGE_SIZE - b).toBe(112);
    expect([heap.objectAt(a)?.mode, heap.objectAt(b)?.mode]).toEqual(["left", "right"]);
    heap.check();
  });

  it("fills the slack with the signature and puts the canary beside the object", () => {
    const { heap, source } = flatGuard();
    const right = heap.heap_alloc(24, 0);
    const memory = source.memory;
    expect(
      memory
        .readBytes(runOf(right), right - CANARY_BYTES - runOf(right))
        .every((b) => b === SLACK_BYTE),
    ).toBe(true);
    expect(memory.readBytes(right + 24, 8).every((b) => b === SLACK_BYTE)).toBe(true);
    const canary = memory.read32(right - CANARY_BYTES);
    expect(canary).not.toBe(SLACK_BYTE * 0x01010101);
    const left = heap.guardAlloc(24, 0, { mode: "left" });
    expect(memory.read32(left + 24)).not.toBe(SLACK_BYTE * 0x01010101);
    expect(memory.readBytes(left + 28, PAGE_SIZE - 28).every((b) => b === SLACK_BYTE)).toBe(true);
    expect([heap.objectAt(right)?.canary, heap.objectAt(left)?.canary]).toEqual([true, true]);
    // A page-sized object has no slack, so no canary.
    const full = heap.heap_alloc(PAGE_SIZE, 0);
    expect(heap.objectAt(full)?.canary).toBe(false);
    heap.check();
  });

  it("places a 0-byte request as one byte (heap_size 1, requested 0)", () => {
    const { heap } = flatGuard();
    const p = heap.heap_alloc(0, 0);
    expect(heap.heap_size(p)).toBe(1);
    expect(heap.stats()).toMatchObject({ liveBlocks: 1, liveBytes: 1, requestedBytes: 0 });
    heap.heap_free(p);
    expect(heap.stats()).toMatchObject({ liveBlocks: 0, liveBytes: 0, requestedBytes: 0 });
    heap.check();
  });

  it("honours alignments up to 2 MiB on the machine", () => {
    const { heap } = guardOnMachine(bootMachine());
    for (const align of [PAGE_SIZE, 64 * 1024, MAX_ALIGN]) {
      for (const mode of ["right", "left"] as const) {
        const p = heap.guardAlloc(5000, align, { mode });
        expect(p % align).toBe(0);
        heap.memory.fill(p, 0x11, 5000);
        heap.check();
        heap.heap_free(p);
      }
    }
    expect(() => heap.heap_alloc(8, MAX_ALIGN * 2)).toThrow(AllocatorError);
    heap.check();
  });
});

describe("GuardHeap bookkeeping", () => {
  it("counts the quarantine ring, the record table and the runs as its footprint", () => {
    const { heap, source } = flatGuard({ quarantinePages: 256 });
    const ring = heap.stats().extra!.ringPages!;
    expect(ring).toBe(5); // 64-byte header + 256 records of 64 bytes
    expect(heap.stats().footprintBytes).toBe(ring * PAGE_SIZE);
    const ptrs = Array.from({ length: 70 }, () => heap.heap_alloc(10, 0));
    // 70 records overflow the one-page table (59 slots): it moved to two pages.
    expect(heap.stats().extra!.tablePages).toBe(2);
    expect(heap.stats().footprintBytes).toBe((ring + 2 + 70) * PAGE_SIZE);
    expect(source.stats().pagesInUse * PAGE_SIZE).toBe(heap.stats().footprintBytes);
    for (const p of ptrs) heap.heap_free(p);
    // The table goes back with the last record; the ring stays with the heap.
    expect(heap.stats().footprintBytes).toBe(ring * PAGE_SIZE);
    expect(source.stats().pagesInUse).toBe(ring);
    heap.check();
  });

  it("keeps sequence numbers and tags in the records", () => {
    const { heap } = flatGuard();
    const a = heap.guardAlloc(10, 0, { tag: "inode" });
    const b = heap.heap_alloc(10, 0);
    expect(heap.objectAt(a)).toMatchObject({
      tag: "inode",
      sequence: 1,
      freedAs: 0,
      size: 10,
      align: 16,
    });
    expect(heap.objectAt(b)).toMatchObject({ tag: "", sequence: 2 });
    heap.heap_free(b);
    heap.heap_free(a);
    expect(heap.objectAt(a)).toMatchObject({ tag: "inode", freedAs: 2 });
    expect(heap.objectAt(b)).toMatchObject({ freedAs: 1 });
    expect(heap.objectAt(12345)).toBeUndefined();
    expect(heap.objectAt(-1)).toBeUndefined();
  });

  it("refuses bad tags, modes and options with EINVAL naming the value, changing nothing", () => {
    const { heap } = flatGuard();
    const keep = heap.guardAlloc(40, 0, { tag: "keep" });
    const before = heap.stats();
    for (const [options, named] of [
      [{ tag: "x".repeat(TAG_MAX + 1) }, `"${"x".repeat(TAG_MAX + 1)}"`],
      [{ tag: "tab\there" }, '"tab\\there"'],
      [{ tag: 7 as unknown as string }, "tag 7"],
      [{ mode: "middle" as "left" }, '"middle"'],
    ] as const) {
      const error = thrown(() => heap.guardAlloc(8, 0, options)) as AllocatorError;
      expect(error.code).toBe("EINVAL");
      expect(error.message).toContain(named);
    }
    expect(heap.guardAlloc(8, 0, { tag: "x".repeat(TAG_MAX) })).not.toBe(0);
    expect(heap.stats().allocs).toBe(before.allocs + 1);
    expect(heap.objectAt(keep)?.tag).toBe("keep");
    heap.check();
    expect(() => flatGuard({ quarantinePages: -1 })).toThrow(AllocatorError);
    expect(() => flatGuard({ mode: "up" as "left" })).toThrow(AllocatorError);
  });

  it("claims pointers in its runs and guard pages, not elsewhere", () => {
    const { heap } = guardOnMachine(bootMachine());
    const p = heap.heap_alloc(100, 0);
    expect(heap.claims(p + 50)).toBe(true);
    expect(heap.claims(runOf(p) - 1)).toBe(true); // the guard page before the run
    expect(heap.claims(runOf(p) + 2 * PAGE_SIZE)).toBe(false);
    heap.heap_free(p);
    expect(heap.claims(p)).toBe(true); // quarantined
    expect(heap.claims(0)).toBe(false);
  });

  it("throws ENOMEM when the page source cannot hold its quarantine ring", () => {
    expect(
      (thrown(() => flatGuard({ quarantinePages: 4096 }, 64 * 1024)) as AllocatorError).code,
    ).toBe("ENOMEM");
  });
});

describe("GuardHeap bad frees and corruption", () => {
  it("reports slack and canary damage on free, repairs it and keeps the object live", () => {
    const { heap, source } = flatGuard();
    const p = heap.guardAlloc(24, 0, { tag: "victim" });
    source.memory.write8(p + 24, 0); // alignment slack after the object
    const slack = thrown(() => heap.heap_free(p)) as GuardViolation;
    expect([slack.kind, slack.code, slack.side, slack.offset]).toEqual([
      "slack-corrupted",
      "ECORRUPT",
      "after",
      0,
    ]);
    expect(slack.report).toContain("Corrupted slack at 0x");
    expect(slack.report).toContain("[ 0x00 . . . . . . . ]");
    expect(heap.heap_size(p)).toBe(24);
    heap.check();
    source.memory.write8(p - 2, 0x99);
    const canary = thrown(() => heap.heap_free(p)) as GuardViolation;
    expect([canary.kind, canary.side, canary.offset]).toEqual(["canary-corrupted", "before", -2]);
    heap.check();
    heap.heap_free(p);
    expect(heap.stats().extra?.violations).toBe(2);
    heap.check();
  });

  it("check() raises the damage it finds as a GuardViolation with code ECORRUPT", () => {
    const { heap, source } = flatGuard();
    const p = heap.heap_alloc(100, 0);
    source.memory.write8(runOf(p) + 5, 1);
    const error = thrown(() => heap.check()) as GuardViolation;
    expect(error).toBeInstanceOf(GuardViolation);
    expect([error.code, error.kind, error.address]).toEqual([
      "ECORRUPT",
      "slack-corrupted",
      runOf(p) + 5,
    ]);
  });

  it("rejects foreign, interior and freed pointers, changing nothing", () => {
    const { heap } = flatGuard();
    const a = heap.heap_alloc(64, 0);
    const b = heap.heap_alloc(64, 0);
    heap.heap_free(b);
    const stats = heap.stats();
    const cases: [number, string, string][] = [
      [a + 8, "invalid-free", "EFAULT"],
      [b, "double-free", "EDOUBLEFREE"],
      [2 ** 40, "invalid-free", "EFAULT"],
      [PAGE_SIZE - 8, "invalid-free", "EFAULT"],
    ];
    for (const [ptr, kind, code] of cases) {
      const error = thrown(() => heap.heap_free(ptr)) as GuardViolation;
      expect([error.kind, error.code]).toEqual([kind, code]);
      expect(error.message).toContain(`0x${ptr.toString(16)}`);
      expect(heap.heap_size(ptr)).toBe(0);
    }
    expect((thrown(() => heap.heap_free(-4)) as AllocatorError).code).toBe("EINVAL");
    expect({ ...heap.stats(), extra: undefined }).toEqual({ ...stats, extra: undefined });
    heap.check();
    heap.heap_free(a);
    heap.check();
  });

  it("heap_size answers 0 around, between and after its objects, on the machine too", () => {
    for (const { heap } of [flatGuard(), guardOnMachine(bootMachine())]) {
      const a = heap.heap_alloc(40, 0);
      const b = heap.heap_alloc(2 * PAGE_SIZE, 0);
      const [low, high] = a < b ? [a, b] : [b, a];
      for (const ptr of [low - PAGE_SIZE, low - 8, low + 8, high + 8, high + 3 * PAGE_SIZE, 0.5])
        expect(heap.heap_size(ptr)).toBe(0);
      expect([heap.heap_size(a), heap.heap_size(b)]).toEqual([40, 2 * PAGE_SIZE]);
      heap.heap_free(a);
      heap.heap_free(b);
      expect([heap.heap_size(a), heap.heap_size(b)]).toEqual([0, 0]);
      // Empty again: the next object may land anywhere, below or above the old ones.
      const c = heap.heap_alloc(8, 0);
      expect(heap.heap_size(c)).toBe(8);
      heap.heap_free(c);
      heap.check();
    }
  });

  it("lets a fault outside every guarded object through unchanged", () => {
    const vmm = bootMachine();
    const { heap } = guardOnMachine(vmm);
    const error = thrown(() => heap.memory.read8(0x7000));
    expect(error).not.toBeInstanceOf(GuardViolation);
    expect((error as AllocatorError).code).toBe("EFAULT");
    const flat = flatGuard().heap;
    expect(thrown(() => flat.memory.read8(2 ** 40))).not.toBeInstanceOf(GuardViolation);
  });
});

describe("GuardHeap over a plain VMM heap region (no guard pages)", () => {
  it("still works as a heap and still catches slack damage and double frees", () => {
    const vmm = bootMachine();
    const heap = new GuardHeap(vmm.kernelHeap);
    expect(heap.guardPages).toBe(false);
    const p = heap.heap_alloc(40, 0);
    heap.memory.write8(p + 40, 0);
    expect((thrown(() => heap.heap_free(p)) as GuardViolation).kind).toBe("slack-corrupted");
    heap.heap_free(p);
    expect((thrown(() => heap.heap_free(p)) as GuardViolation).kind).toBe("double-free");
    heap.check();
  });
});
