import { FlatMemory, FlatPageSource, MiB } from "@allockit/core";
import { GuardHeap } from "../src/index.js";
import type { GuardHeapOptions } from "../src/index.js";

/** A guard heap over flat pages (no guard pages), and its source. */
export function flatGuard(
  options: GuardHeapOptions = {},
  memoryBytes = 8 * MiB,
): { heap: GuardHeap; source: FlatPageSource } {
  const source = new FlatPageSource(new FlatMemory(memoryBytes));
  return { heap: new GuardHeap(source, options), source };
}

/** The error `action` throws; fails the test when it returns normally. */
export function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw");
}
