import { expect } from "vitest";
import {
  BumpBootAllocator,
  GiB,
  PAGE_SIZE,
  isAllocatorError,
  type MemoryMap,
  type PhysRange,
  type PmmStats,
} from "@allockit/core";
import { BuddyPmm, type BuddyPmmOptions } from "@allockit/pmm-buddy";
import { PhysicalRam, memoryMapPreset, qemuMemoryMap } from "@allockit/x86-machine";

export const KERNEL: PhysRange = { base: 0x100000, length: 0x200000, name: "kernel" };

export type MachineName = "qemu-i440fx-128m" | "qemu-q35-4g" | "q35-64g";

export function machineMap(name: MachineName): MemoryMap {
  return name === "q35-64g"
    ? qemuMemoryMap({ machine: "q35", ramBytes: 64 * GiB })
    : memoryMapPreset(name);
}

export interface Booted {
  pmm: BuddyPmm;
  ram: PhysicalRam;
  boot: BumpBootAllocator;
  map: MemoryMap;
}

/** A BuddyPmm initialised over `name` with the kernel reserved at 1 MiB. */
export function boot(
  name: MachineName = "qemu-i440fx-128m",
  options: BuddyPmmOptions = {},
): Booted {
  const map = machineMap(name);
  const ram = new PhysicalRam(map);
  const bootAllocator = new BumpBootAllocator(map, { reserved: [KERNEL] });
  const pmm = new BuddyPmm(options);
  pmm.init(map, bootAllocator, ram);
  return { pmm, ram, boot: bootAllocator, map };
}

/** Property runs: `defaultRuns`, or ALLOCKIT_FUZZ_RUNS when that is larger. */
export function fuzzRuns(defaultRuns: number): number {
  const fromEnv = Number(process.env.ALLOCKIT_FUZZ_RUNS);
  return Number.isSafeInteger(fromEnv) && fromEnv > defaultRuns ? fromEnv : defaultRuns;
}

/** Asserts `run` throws an AllocatorError with `code` whose message contains `mentions`. */
export function expectAllocatorError(run: () => unknown, code: string, mentions = ""): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(isAllocatorError(caught), `expected an AllocatorError, got ${String(caught)}`).toBe(true);
  const error = caught as { code: string; message: string };
  expect(error.code).toBe(code);
  expect(error.message).toContain(mentions);
}

/** Asserts a bad call throws `code`, and that stats and check() are as before it. */
export function expectRejected(
  pmm: BuddyPmm,
  run: () => unknown,
  code: string,
  mentions = "",
): void {
  const before: PmmStats = pmm.stats();
  const blocks = pmm.freeBlocksPerOrder();
  expectAllocatorError(run, code, mentions);
  expect(pmm.stats()).toEqual(before);
  expect(pmm.freeBlocksPerOrder()).toEqual(blocks);
  pmm.check();
}

/** Allocates single frames until the PMM returns 0. */
export function allocateAllSingles(pmm: BuddyPmm): number[] {
  const frames: number[] = [];
  for (let addr = pmm.allocFrames(1); addr !== 0; addr = pmm.allocFrames(1)) frames.push(addr);
  return frames;
}

/** Deterministic shuffle (xorshift), so a failure replays. */
export function shuffled<T>(items: readonly T[], seed = 0x9e3779b9): T[] {
  const out = [...items];
  let state = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const j = (state >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export const hexFrame = (addr: number): string => "0x" + addr.toString(16);
export { PAGE_SIZE };
