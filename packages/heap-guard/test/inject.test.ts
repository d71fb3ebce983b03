import { AllocatorError, ListHeap } from "@allockit/core";
import { describe, expect, it } from "vitest";
import {
  GUARD_VIOLATION_KINDS,
  SamplingHeap,
  formatAddress,
  injectBug,
  isGuardViolation,
} from "../src/index.js";
import type { GuardViolationKind } from "../src/index.js";
import { flatGuard, thrown } from "./helpers.js";
import { bootMachine, guardOnMachine } from "./machine.js";

const HEADLINES: Record<GuardViolationKind, string> = {
  overflow: "BUG: heap-guard: out-of-bounds write in guarded-#",
  underflow: "BUG: heap-guard: out-of-bounds write in guarded-#",
  "use-after-free-read": "BUG: heap-guard: use-after-free read in guarded-#",
  "use-after-free-write": "BUG: heap-guard: use-after-free write in guarded-#",
  "double-free": "BUG: heap-guard: double free of guarded-#",
  "invalid-free": "BUG: heap-guard: invalid free near guarded-#",
  "slack-corrupted": "BUG: heap-guard: memory corruption in guarded-#",
  "canary-corrupted": "BUG: heap-guard: canary corruption in guarded-#",
};

describe("injectBug", () => {
  it("commits and catches every kind on the machine, leaving the heap consistent", () => {
    const vmm = bootMachine();
    const { heap, source } = guardOnMachine(vmm);
    for (const kind of GUARD_VIOLATION_KINDS) {
      const v = injectBug(heap, kind);
      expect(v.kind).toBe(kind);
      expect(v.tag).toBe(`inject ${kind}`);
      expect(v.report).toContain(HEADLINES[kind]);
      expect(v.report).toContain(formatAddress(v.address));
      expect(v.report.split("\n")[0]).toMatch(/^=+$/);
      heap.check();
      source.check();
      expect(heap.stats().liveBlocks).toBe(0);
    }
  });

  it("on plain pages reports overflow and underflow through slack and canary, refuses use after free", () => {
    const { heap } = flatGuard();
    expect(injectBug(heap, "overflow").kind).toBe("slack-corrupted");
    expect(injectBug(heap, "underflow").kind).toBe("canary-corrupted");
    for (const kind of [
      "double-free",
      "invalid-free",
      "slack-corrupted",
      "canary-corrupted",
    ] as const)
      expect(injectBug(heap, kind).kind).toBe(kind);
    for (const kind of ["use-after-free-read", "use-after-free-write"] as const)
      expect((thrown(() => injectBug(heap, kind)) as AllocatorError).code).toBe("EUNSUPPORTED");
    // An overflow flush with the page end would hit the next page: refused, nothing written.
    expect((thrown(() => injectBug(heap, "overflow", { size: 4096 })) as AllocatorError).code).toBe(
      "EUNSUPPORTED",
    );
    heap.check();
    expect(heap.stats().liveBlocks).toBe(0);
  });

  it("takes a sampling heap (its guard heap) and overrides of the object's shape", () => {
    const { heap } = flatGuard();
    const sampling = new SamplingHeap(new ListHeap(flatGuard().source), heap);
    const v = injectBug(sampling, "invalid-free", { size: 300, tag: "mine", mode: "left" });
    expect([v.kind, v.size, v.tag, v.mode, v.offset]).toEqual([
      "invalid-free",
      300,
      "mine",
      "left",
      8,
    ]);
    expect(isGuardViolation(v)).toBe(true);
  });

  it("refuses a heap that is not a guard heap and an unknown kind", () => {
    const { heap, source } = flatGuard();
    expect((thrown(() => injectBug(new ListHeap(source), "overflow")) as AllocatorError).code).toBe(
      "EINVAL",
    );
    expect(
      (thrown(() => injectBug(heap, "melt" as GuardViolationKind)) as AllocatorError).code,
    ).toBe("EINVAL");
  });
});
