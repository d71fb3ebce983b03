import { PAGE_SIZE } from "@allockit/core";
import type { Memory } from "@allockit/core";
import { describe, expect, it } from "vitest";
import { GUARD_VIOLATION_KINDS, GuardViolation, formatAddress, whereText } from "../src/index.js";
import type { GuardHeap, GuardMode, GuardViolationKind } from "../src/index.js";
import { bootMachine, guardOnMachine } from "./machine.js";

/**
 * Acceptance: every kind of bug x object sizes x alignments x modes, on the machine (real
 * faults through the MMU), is caught with the right kind, address, offset, size, tag and
 * sequence number, and the report names them.
 *
 * Which kind catches a bug depends on where the stray byte lands, as in KFENCE:
 *
 * | bug                  | right mode (default)                          | left mode                                    |
 * | -------------------- | --------------------------------------------- | -------------------------------------------- |
 * | write 1 past the end | overflow if the object ends at the guard page, | canary-corrupted when the canary fits after |
 * |                      | else slack-corrupted (alignment slack), on free | it, slack-corrupted when 1-3 bytes remain,  |
 * |                      |                                               | overflow when it ends at the guard page      |
 * | write 1 before start | canary-corrupted when the canary fits before  | underflow (the guard page before the run)    |
 * |                      | it, slack-corrupted with 1-3 bytes, underflow |                                              |
 * |                      | when it starts the run                        |                                              |
 * | read/write after free| use-after-free-read / -write (unmapped pages) | the same                                     |
 * | free twice           | double-free                                   | double-free                                  |
 * | free ptr + 1         | invalid-free                                  | invalid-free                                 |
 * | stray slack byte     | slack-corrupted (only when there is slack)    | the same                                     |
 * | stray canary byte    | canary-corrupted (only when it has a canary)  | the same                                     |
 */

const SIZES = [1, 3, 24, 100, 4095, 4096, 3 * 4096 + 5];
const ALIGNS = [0, 16, 64, 4096];
const MODES: GuardMode[] = ["right", "left"];
const CANARY = 4;

interface Layout {
  ptr: number;
  size: number;
  run: number;
  runEnd: number;
  left: boolean;
  canary: boolean;
}

function layoutOf(ptr: number, size: number, mode: GuardMode): Layout {
  const run = ptr - (ptr % PAGE_SIZE);
  const runEnd = run + Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  const left = mode === "left";
  const canary = left ? runEnd - (ptr + size) >= CANARY : ptr - run >= CANARY;
  return { ptr, size, run, runEnd, left, canary };
}

interface Plan {
  kind: GuardViolationKind;
  address: number;
  /** Commits the bug (the violation may come from here or from the free that follows). */
  act: () => void;
}

/**
 * Writes one stray byte at `address`: into a guard page any value (the write faults), into
 * slack or canary a value that differs from what is there (a write of the very byte a canary
 * holds goes unseen, by any canary-based checker).
 */
function strayWrite(memory: Memory, address: number, guard: boolean): void {
  memory.write8(address, guard ? 0x5a : memory.read8(address) ^ 0xa5);
}

/** The bug and what must catch it; undefined when the shape has no such spot. */
function plan(heap: GuardHeap, kind: GuardViolationKind, at: Layout): Plan | undefined {
  const memory = heap.memory;
  const { ptr, size, run, runEnd, left, canary } = at;
  const end = ptr + size;
  switch (kind) {
    case "overflow":
      return {
        kind: end === runEnd ? "overflow" : left && canary ? "canary-corrupted" : "slack-corrupted",
        address: end,
        act: () => strayWrite(memory, end, end === runEnd),
      };
    case "underflow":
      return {
        kind: ptr === run ? "underflow" : canary ? "canary-corrupted" : "slack-corrupted",
        address: ptr - 1,
        act: () => strayWrite(memory, ptr - 1, ptr === run),
      };
    case "use-after-free-read":
      return {
        kind,
        address: end - 1,
        act: () => {
          heap.heap_free(ptr);
          memory.read8(end - 1);
        },
      };
    case "use-after-free-write":
      return {
        kind,
        address: ptr,
        act: () => {
          heap.heap_free(ptr);
          memory.write8(ptr, 0x5a);
        },
      };
    case "double-free":
      return {
        kind,
        address: ptr,
        act: () => {
          heap.heap_free(ptr);
          heap.heap_free(ptr);
        },
      };
    case "invalid-free":
      return { kind, address: ptr + 1, act: () => heap.heap_free(ptr + 1) };
    case "slack-corrupted": {
      // The slack byte farthest from the object: the run's first or last byte.
      const slackBefore = left ? 0 : ptr - run - (canary ? CANARY : 0);
      const slackAfter = runEnd - end - (left && canary ? CANARY : 0);
      const address = slackBefore > 0 ? run : slackAfter > 0 ? runEnd - 1 : -1;
      if (address < 0) return undefined;
      return { kind, address, act: () => memory.write8(address, memory.read8(address) ^ 0xff) };
    }
    case "canary-corrupted": {
      if (!canary) return undefined;
      const address = left ? end : ptr - CANARY;
      return { kind, address, act: () => memory.write8(address, memory.read8(address) ^ 0x01) };
    }
  }
}

/** Offset as GuardViolation defines it: from the start before/within, from the end after. */
function expectedPlace(
  address: number,
  ptr: number,
  size: number,
): ["before" | "within" | "after", number] {
  if (address < ptr) return ["before", address - ptr];
  if (address >= ptr + size) return ["after", address - (ptr + size)];
  return ["within", address - ptr];
}

describe.each(["long", "pae"] as const)("detection matrix on the machine (%s paging)", (paging) => {
  const vmm = bootMachine(paging);
  const { heap, source } = guardOnMachine(vmm, { quarantinePages: 64 });

  for (const kind of GUARD_VIOLATION_KINDS) {
    it(`catches every ${kind} with the right kind, offset, size, tag and sequence`, () => {
      let committed = 0;
      let caught = 0;
      const shapesWithoutSpot: string[] = [];
      for (const mode of MODES) {
        for (const align of ALIGNS) {
          for (const size of SIZES) {
            const tag = `${kind.slice(0, 12)} ${mode} ${size}/${align}`;
            const ptr = heap.guardAlloc(size, align, { mode, tag });
            expect(ptr).not.toBe(0);
            const sequence = heap.objectAt(ptr)!.sequence;
            const at = layoutOf(ptr, size, mode);
            // Placement: aligned, inside its run, flush with the edge its mode names.
            expect(ptr % Math.max(align, 16)).toBe(0);
            if (mode === "left") expect(ptr).toBe(at.run);
            else expect(at.runEnd - (ptr + size)).toBeLessThan(Math.max(align, 16));

            const expectation = plan(heap, kind, at);
            if (expectation === undefined) {
              shapesWithoutSpot.push(`${mode} ${size}/${align}`);
              heap.heap_free(ptr);
              continue;
            }
            let violation: GuardViolation | undefined;
            try {
              expectation.act();
              // Slack and canary damage is found when the object is freed.
              if (heap.heap_size(ptr) !== 0) heap.heap_free(ptr);
            } catch (error) {
              if (!(error instanceof GuardViolation)) throw error;
              violation = error;
            }
            committed++;
            const what = `${kind} on ${mode} ${size} bytes align ${align} at ${formatAddress(ptr)}`;
            expect(violation, what).toBeInstanceOf(GuardViolation);
            const v = violation!;
            expect(v.kind, what).toBe(expectation.kind);
            expect(v.address, what).toBe(expectation.address);
            const [side, offset] = expectedPlace(expectation.address, ptr, size);
            expect([v.side, v.offset], what).toEqual([side, offset]);
            expect([v.size, v.tag, v.sequence, v.mode], what).toEqual([size, tag, sequence, mode]);
            const name = `guarded-#${sequence}`;
            for (const text of [
              formatAddress(expectation.address),
              name,
              `"${tag}"`,
              `size=${size}`,
              whereText(side, offset, name),
            ])
              expect(v.report, what).toContain(text);
            caught++;
            // Whatever the bug, the heap is consistent afterwards and the object can be freed.
            heap.check();
            if (heap.heap_size(ptr) !== 0) heap.heap_free(ptr);
            heap.check();
            source.check();
          }
        }
      }
      expect(caught).toBe(committed);
      expect(committed).toBeGreaterThan(0);
      // Only the slack and canary kinds need a spot the shape may lack.
      if (kind !== "slack-corrupted" && kind !== "canary-corrupted")
        expect(shapesWithoutSpot).toEqual([]);
      expect(heap.stats().liveBlocks).toBe(0);
    });
  }

  it("leaves no shape without slack or canary except those that fill their pages", () => {
    // A 4096-byte object fills its page in both modes: no slack, no canary. Every other shape
    // of the matrix has both (left mode with 4095 bytes has one byte of slack, no canary).
    const noSlack: string[] = [];
    for (const mode of MODES)
      for (const align of ALIGNS)
        for (const size of SIZES) {
          const ptr = heap.guardAlloc(size, align, { mode });
          const at = layoutOf(ptr, size, mode);
          if (at.runEnd - at.run === size) noSlack.push(`${mode} ${size}/${align}`);
          heap.heap_free(ptr);
        }
    expect(noSlack).toEqual([
      ...ALIGNS.map((align) => `right 4096/${align}`),
      ...ALIGNS.map((align) => `left 4096/${align}`),
    ]);
  });
});
