import { FlatMemory, FlatPageSource, MiB, isAllocatorError } from "@allockit/core";
import type { AllocatorErrorCode } from "@allockit/core";
import { BucketHeap } from "../src/index.js";
import type { BucketHeapOptions } from "../src/index.js";
import { INDEX_NAME } from "../src/layout.js";

export interface FlatBucketHeap {
  heap: BucketHeap;
  source: FlatPageSource;
  memory: FlatMemory;
}

export interface FlatBucketHeapOptions extends BucketHeapOptions {
  /** Size of the flat memory (default 32 MiB). */
  memoryBytes?: number;
  /** Page limit of the flat page source. */
  pageLimit?: number;
}

/** A bucket heap over a fresh flat memory (identity-mapped, so addresses are physical). */
export function flatBucketHeap(options: FlatBucketHeapOptions = {}): FlatBucketHeap {
  const { memoryBytes = 32 * MiB, pageLimit, ...heapOptions } = options;
  const memory = new FlatMemory(memoryBytes);
  const source = new FlatPageSource(memory, pageLimit === undefined ? {} : { pageLimit });
  return { heap: new BucketHeap(source, heapOptions), source, memory };
}

/** The AllocatorError code `action` throws ("none" when it returns normally). */
export function codeOf(action: () => unknown): AllocatorErrorCode | "none" | "other" {
  try {
    action();
    return "none";
  } catch (error) {
    return isAllocatorError(error) ? error.code : "other";
  }
}

/** The message of the AllocatorError `action` throws. */
export function messageOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (isAllocatorError(error)) return error.message;
    throw error;
  }
  throw new Error("expected an AllocatorError");
}

/** Fills `length` bytes at `ptr` with a pattern derived from `seed`. */
export function writePattern(memory: FlatMemory, ptr: number, length: number, seed: number): void {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  memory.writeBytes(ptr, bytes);
}

/** True when the `length` bytes at `ptr` hold the pattern of `seed`. */
export function hasPattern(memory: FlatMemory, ptr: number, length: number, seed: number): boolean {
  const bytes = memory.readBytes(ptr, length);
  for (let i = 0; i < length; i++) if (bytes[i] !== ((seed * 31 + i * 7) & 0xff)) return false;
  return true;
}

/** The dump lines of pebbles (indented lines). */
export function pebbleLines(heap: BucketHeap): string[] {
  // The heap's own free-pebble index, a used pebble at the end of the first bucket, is left out.
  return heap
    .dump()
    .split("\n")
    .filter((line) => line.startsWith("  pebble") && !line.includes(`name "${INDEX_NAME}"`));
}

export const KiB = 1024;
export { MiB };
