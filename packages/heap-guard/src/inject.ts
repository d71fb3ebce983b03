import { AllocatorError, PAGE_SIZE, describeValue } from "@allockit/core";
import type { Heap } from "@allockit/core";
import type { GuardHeap } from "./guard-heap.js";
import { pagesOf, runOf } from "./placement.js";
import { GUARD_VIOLATION_KINDS, isGuardViolation } from "./violation.js";
import type { GuardMode, GuardViolation, GuardViolationKind } from "./violation.js";

/** Overrides of the object {@link injectBug} allocates. */
export interface InjectOptions {
  size?: number;
  align?: number;
  mode?: GuardMode;
  tag?: string;
}

/** The object each kind is injected into by default: shaped so the bug hits what catches it. */
interface Shape {
  size: number;
  align: number;
  mode: GuardMode;
}

function defaultShape(kind: GuardViolationKind, guardPages: boolean): Shape {
  switch (kind) {
    case "overflow":
      // Over guard pages: flush against the guard. Without: 8 bytes of alignment slack after.
      return { size: guardPages ? 32 : 24, align: 16, mode: "right" };
    case "underflow":
      // Over guard pages: against the guard before the run. Without: the canary before it.
      return { size: 24, align: 16, mode: guardPages ? "left" : "right" };
    default:
      return { size: 24, align: 16, mode: "right" };
  }
}

/** Runs `action`; returns the GuardViolation it throws, or undefined when it throws none. */
function caught(action: () => void): GuardViolation | undefined {
  try {
    action();
  } catch (error) {
    if (isGuardViolation(error)) return error;
    throw error;
  }
  return undefined;
}

/** The guard heap itself, or a sampling heap's (by shape, so any copy of this package fits). */
function guardHeapOf(heap: Heap): GuardHeap | undefined {
  const isGuard = (candidate: unknown): candidate is GuardHeap =>
    typeof candidate === "object" &&
    candidate !== null &&
    typeof (candidate as Partial<GuardHeap>).guardAlloc === "function" &&
    typeof (candidate as Partial<GuardHeap>).explainFault === "function";
  if (isGuard(heap)) return heap;
  const inner = (heap as { guard?: unknown }).guard;
  return isGuard(inner) ? inner : undefined;
}

/**
 * Commits one bug of `kind` on a fresh object of the guard heap (of a sampling heap, its guard
 * heap) and returns the GuardViolation that caught it, whose `report` is the text to print:
 * a write one byte past the end (overflow) or before the start (underflow), a read or write
 * after free, a second free, a free of an interior pointer, a stray byte in the slack or the
 * canary. The heap is left consistent: the object is freed (properly) afterwards.
 *
 * Without guard pages (a heap over plain pages) an overflow and an underflow land in slack
 * and canary and are reported as such on free; use after free cannot be caught, and a stray
 * byte that would leave the object's pages would hit another's memory: both raise EUNSUPPORTED.
 * Throws ENOMEM when the object cannot be allocated.
 */
export function injectBug(
  heap: Heap,
  kind: GuardViolationKind,
  options: InjectOptions = {},
): GuardViolation {
  const guard = guardHeapOf(heap);
  if (guard === undefined) {
    throw new AllocatorError(
      "EINVAL",
      `injectBug: heap ${describeValue(heap.name)} is not a guard heap (or a sampling heap over one)`,
      heap.name,
    );
  }
  if (!GUARD_VIOLATION_KINDS.includes(kind)) {
    throw new AllocatorError(
      "EINVAL",
      `injectBug: kind ${describeValue(kind)} is not one of ${GUARD_VIOLATION_KINDS.join(", ")}`,
      kind,
    );
  }
  const afterFree = kind === "use-after-free-read" || kind === "use-after-free-write";
  if (afterFree && !guard.guardPages) {
    throw new AllocatorError(
      "EUNSUPPORTED",
      `injectBug: ${kind} is caught by unmapping freed pages, and this heap's page source has no guard pages (run it over a VMM)`,
      kind,
    );
  }
  const shape = defaultShape(kind, guard.guardPages);
  const size = options.size ?? shape.size;
  const ptr = guard.guardAlloc(size, options.align ?? shape.align, {
    mode: options.mode ?? shape.mode,
    tag: options.tag ?? `inject ${kind}`,
  });
  if (ptr === 0) {
    throw new AllocatorError(
      "ENOMEM",
      `injectBug: the guard heap could not allocate ${size} bytes`,
      size,
    );
  }
  const memory = guard.memory;
  const run = runOf(ptr);
  const runEnd = run + pagesOf(Math.max(size, 1)) * PAGE_SIZE;
  // A stray byte: in the object's pages one that differs from what is there (a canary byte
  // rewritten with its own value would go unseen); beyond them any, as the guard page faults.
  // Without guard pages a byte beyond them would land in someone else's memory: refused.
  const stray = (address: number): void => {
    const inRun = address >= run && address < runEnd;
    if (!inRun && !guard.guardPages) {
      throw new AllocatorError(
        "EUNSUPPORTED",
        `injectBug: the ${kind} would write outside the object's pages, and there is no guard page to catch it (choose a shape with slack)`,
        address,
      );
    }
    memory.write8(address, inRun ? memory.read8(address) ^ 0xff : 0x42);
  };
  let live = true;
  const free = (): void => {
    guard.heap_free(ptr);
    live = false;
  };
  let violation: GuardViolation | undefined;
  try {
    switch (kind) {
      case "overflow":
        violation = caught(() => stray(ptr + Math.max(size, 1))) ?? caught(free);
        break;
      case "underflow":
        violation = caught(() => stray(ptr - 1)) ?? caught(free);
        break;
      case "use-after-free-read":
        free();
        violation = caught(() => memory.read8(ptr));
        break;
      case "use-after-free-write":
        free();
        violation = caught(() => memory.write8(ptr, 0x42));
        break;
      case "double-free":
        free();
        violation = caught(() => guard.heap_free(ptr));
        break;
      case "invalid-free":
        violation = caught(() => guard.heap_free(ptr + Math.min(8, Math.max(size - 1, 1))));
        break;
      case "slack-corrupted":
        violation = caught(() => stray(run)) ?? caught(free);
        break;
      case "canary-corrupted":
        violation = caught(() => stray(ptr - 1)) ?? caught(free);
        break;
    }
  } finally {
    // A corruption found on free was repaired by the heap, so this free succeeds.
    if (live) free();
  }
  if (violation === undefined) {
    throw new AllocatorError(
      "EUNSUPPORTED",
      `injectBug: the injected ${kind} went undetected with size ${size} (choose another shape)`,
      kind,
    );
  }
  return violation;
}
