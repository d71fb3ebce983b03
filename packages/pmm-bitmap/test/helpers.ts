import { expect } from "vitest";
import {
  BumpBootAllocator,
  isAllocatorError,
  managedRanges,
  type MemoryMap,
  type PhysRange,
  type PmmStats,
} from "@allockit/core";
import { BitmapPmm, metadataLayout, type BitmapPmmOptions } from "@allockit/pmm-bitmap";
import { PhysicalRam } from "@allockit/x86-machine";

export const PAGE = 4096;
export const KiB = 1024;
export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/** The kernel image every test boots with: 2 MiB at 1 MiB. */
export const KERNEL: PhysRange = { base: 0x100000, length: 0x200000, name: "kernel" };

export interface BootedPmm {
  map: MemoryMap;
  ram: PhysicalRam;
  boot: BumpBootAllocator;
  pmm: BitmapPmm;
  /** managedRanges(map, boot) computed after init. */
  managed: PhysRange[];
}

/** A BitmapPmm initialised over `map` in fresh sparse RAM, the kernel reserved. */
export function bootPmm(map: MemoryMap, options: BitmapPmmOptions = {}): BootedPmm {
  const ram = new PhysicalRam(map);
  const boot = new BumpBootAllocator(map, { reserved: [KERNEL] });
  const pmm = new BitmapPmm(options);
  pmm.init(map, boot, ram);
  return { map, ram, boot, pmm, managed: managedRanges(map, boot) };
}

/**
 * Property runs: `defaultRuns`, or ALLOCKIT_FUZZ_RUNS when that is larger (it raises run counts,
 * as in the conformance suites; it never lowers them).
 */
export function fuzzRuns(defaultRuns: number): number {
  const fromEnv = Number(process.env.ALLOCKIT_FUZZ_RUNS);
  return Number.isSafeInteger(fromEnv) && fromEnv > defaultRuns ? fromEnv : defaultRuns;
}

/** Asserts that `run` throws an AllocatorError with `code` whose message contains `mentions`. */
export function expectAllocatorError(run: () => unknown, code: string, mentions = ""): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(isAllocatorError(caught), `expected an AllocatorError, got ${String(caught)}`).toBe(true);
  const error = caught as { code: string; message: string };
  expect(error.code, error.message).toBe(code);
  expect(error.message).toContain(mentions);
}

/** Runs `bad`, which must throw `code`, and asserts that stats and check() are unchanged. */
export function expectRejectedUnchanged(
  pmm: BitmapPmm,
  bad: () => unknown,
  code: string,
  mentions = "",
): void {
  const before: PmmStats = pmm.stats();
  expectAllocatorError(bad, code, mentions);
  expect(pmm.stats()).toEqual(before);
  pmm.check();
}

/** Where the metadata of `booted` lives: the block the boot allocator handed out. */
export function metadataBlock(booted: BootedPmm): PhysRange {
  const blocks = booted.boot.allocated();
  expect(blocks).toHaveLength(1);
  return blocks[0]!;
}

/** Address of a region descriptor field, read through the published layout. */
export function descriptorField(booted: BootedPmm, region: number, field: number): number {
  const block = metadataBlock(booted);
  return (
    block.base + metadataLayout.HEADER_BYTES + region * metadataLayout.DESCRIPTOR_BYTES + field
  );
}

/** Address of a region's level 0 bitmap. */
export function bitmapAddress(booted: BootedPmm, region: number): number {
  const ram = booted.ram;
  const low = ram.read32(descriptorField(booted, region, metadataLayout.DESC_BITMAP_ADDR_LOW));
  const high = ram.read32(descriptorField(booted, region, metadataLayout.DESC_BITMAP_ADDR_HIGH));
  return high * 2 ** 32 + low;
}

/** Region index of the region holding physical address `addr`, read from the descriptors. */
export function regionOf(booted: BootedPmm, addr: number): number {
  const ram = booted.ram;
  const count = ram.read32(metadataBlock(booted).base + metadataLayout.HEADER_REGION_COUNT);
  const frame = addr / PAGE;
  for (let region = 0; region < count; region++) {
    const base =
      ram.read32(descriptorField(booted, region, metadataLayout.DESC_BASE_FRAME_HIGH)) * 2 ** 32 +
      ram.read32(descriptorField(booted, region, metadataLayout.DESC_BASE_FRAME_LOW));
    const frames = ram.read32(descriptorField(booted, region, metadataLayout.DESC_FRAME_COUNT));
    if (frame >= base && frame < base + frames) return region;
  }
  throw new Error(`no region holds ${addr.toString(16)}`);
}

/** True when `[start, start + frames)` lies inside one of `ranges`. */
export function insideRanges(ranges: readonly PhysRange[], start: number, bytes: number): boolean {
  return ranges.some((r) => start >= r.base && start + bytes <= r.base + r.length);
}
