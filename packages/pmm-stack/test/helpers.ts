import {
  BumpBootAllocator,
  PAGE_SIZE,
  managedRanges,
  type MemoryMap,
  type PhysRange,
} from "@allockit/core";
import { StackPmm, type StackPmmOptions } from "@allockit/pmm-stack";
import { PhysicalRam, memoryMapPreset } from "@allockit/x86-machine";

export const KERNEL: PhysRange = { base: 0x100000, length: 0x200000, name: "kernel" };

export interface Machine {
  map: MemoryMap;
  ram: PhysicalRam;
  boot: BumpBootAllocator;
  pmm: StackPmm;
  /** What the PMM manages, computed after init (the boot allocator is capped by then). */
  managed: PhysRange[];
}

/** A PMM initialised over `map` (a preset name or a map) with the kernel at 1 MiB reserved. */
export function machine(map: MemoryMap | string, options: StackPmmOptions = {}): Machine {
  const memoryMap = typeof map === "string" ? memoryMapPreset(map) : map;
  const ram = new PhysicalRam(memoryMap);
  const boot = new BumpBootAllocator(memoryMap, { reserved: [KERNEL] });
  const pmm = new StackPmm(options);
  pmm.init(memoryMap, boot, ram);
  return { map: memoryMap, ram, boot, pmm, managed: managedRanges(memoryMap, boot) };
}

export function isManaged(managed: readonly PhysRange[], addr: number): boolean {
  return managed.some((r) => addr >= r.base && addr + PAGE_SIZE <= r.base + r.length);
}

/** Allocates until allocFrames returns 0. */
export function allocateAll(pmm: StackPmm, constraints?: Parameters<StackPmm["allocFrames"]>[1]) {
  const frames: number[] = [];
  for (;;) {
    const addr = pmm.allocFrames(1, constraints);
    if (addr === 0) return frames;
    frames.push(addr);
  }
}

/** The AllocatorError code `fn` throws (fails the test when it does not throw one). */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string") return code;
    throw error;
  }
  throw new Error("expected an AllocatorError, nothing was thrown");
}

export const LAYOUTS = ["batched", "one"] as const;
