import { expect } from "vitest";
import { FlatMemory, FlatPageSource, MiB, isAllocatorError } from "@allockit/core";
import type { AllocatorErrorCode } from "@allockit/core";
import { SlabHeap } from "@allockit/heap-slab";
import type { SlabHeapOptions } from "@allockit/heap-slab";

export interface FlatHeap {
  heap: SlabHeap;
  source: FlatPageSource;
  memory: FlatMemory;
}

export interface FlatHeapSetup extends SlabHeapOptions {
  /** Page limit of the flat page source. */
  pageLimit?: number;
  /** Address of the flat memory's first byte. */
  base?: number;
  memoryBytes?: number;
}

/** A SlabHeap over a fresh flat memory. */
export function flatHeap(setup: FlatHeapSetup = {}): FlatHeap {
  const { pageLimit, base, memoryBytes, ...options } = setup;
  const memory = new FlatMemory(memoryBytes ?? 8 * MiB, base ?? 0);
  const source = new FlatPageSource(memory, pageLimit === undefined ? {} : { pageLimit });
  return { heap: new SlabHeap(source, options), source, memory };
}

/** Runs `action`, expecting an AllocatorError with `code` whose message contains `fragment`. */
export function expectError(
  action: () => unknown,
  code: AllocatorErrorCode,
  fragment?: string | RegExp,
): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(isAllocatorError(caught), `expected AllocatorError ${code}, got ${String(caught)}`).toBe(
    true,
  );
  const error = caught as Error & { code: string };
  expect(error.code, error.message).toBe(code);
  if (fragment !== undefined) expect(error.message).toMatch(fragment);
}

/** Fills `length` bytes at `addr` with a pattern derived from `seed`. */
export function writePattern(memory: FlatMemory, addr: number, length: number, seed: number): void {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 131 + i * 7) & 0xff;
  memory.writeBytes(addr, bytes);
}

/** True when the pattern of `seed` is intact. */
export function hasPattern(
  memory: FlatMemory,
  addr: number,
  length: number,
  seed: number,
): boolean {
  const bytes = memory.readBytes(addr, length);
  for (let i = 0; i < length; i++) if (bytes[i] !== ((seed * 131 + i * 7) & 0xff)) return false;
  return true;
}
