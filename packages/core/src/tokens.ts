import type { DependencyContainer } from "tsyringe";
import type { Heap } from "./contracts/heap.js";
import type { Memory, PhysicalMemory } from "./contracts/memory.js";
import type { PageSource } from "./contracts/page-source.js";
import type { PhysicalMemoryManager } from "./contracts/pmm.js";
import type { VirtualMemoryManager } from "./contracts/vmm.js";
import type { BootAllocator } from "./contracts/boot-allocator.js";
import type { MemoryMap } from "./contracts/memory-map.js";
import type { BootInfo } from "./boot.js";

/**
 * A DI token carrying the type it resolves to. Tokens are registered symbols
 * (`Symbol.for`), so a plugin that bundles its own copy of core still meets the same tokens.
 */
export type Token<T> = symbol & { readonly __resolvesTo?: T };

function token<T>(name: string): Token<T> {
  return Symbol.for(`allockit.${name}`) as Token<T>;
}

/** The DI tokens of the contracts. Plugins register implementations under these. */
export const TOKENS = {
  /** The machine object of a machine plugin (its own type; flat memory has none). */
  Machine: token<unknown>("Machine"),
  /** Physical memory access. */
  PhysicalMemory: token<PhysicalMemory>("PhysicalMemory"),
  /** The memory the kernel heap lives in (virtual, through the MMU, or flat). */
  Memory: token<Memory>("Memory"),
  /** The firmware memory map the system booted with. */
  MemoryMap: token<MemoryMap>("MemoryMap"),
  BootAllocator: token<BootAllocator>("BootAllocator"),
  /** Where the boot loader put the kernel image and modules. */
  BootInfo: token<BootInfo>("BootInfo"),
  Pmm: token<PhysicalMemoryManager>("Pmm"),
  Vmm: token<VirtualMemoryManager>("Vmm"),
  /** What the kernel heap grows from. */
  PageSource: token<PageSource>("PageSource"),
  Heap: token<Heap>("Heap"),
  /** For a wrapping heap plugin: the heap it wraps (see PluginManifest.wraps). */
  WrappedHeap: token<Heap>("WrappedHeap"),
} as const;

/** Resolves a typed token. */
export function resolveToken<T>(container: DependencyContainer, key: Token<T>): T {
  return container.resolve<T>(key);
}

/** Resolves a typed token, or undefined when nothing is registered under it. */
export function tryResolveToken<T>(container: DependencyContainer, key: Token<T>): T | undefined {
  return container.isRegistered(key, true) ? container.resolve<T>(key) : undefined;
}
