import {
  AllocatorError,
  HEAP_TESTBED_FLAT_MIB,
  HEAP_TESTBED_MACHINE,
  heapTestbedConfig,
  type AllockitConfig,
} from "@allockit/core";
import { PMM_SHORT_NAMES } from "./boot.js";
import { composeConfig, composeSystem, type LoadedSystem } from "./system.js";

/** Where a heap chosen with --heap runs: flat memory, or the machine (PMM, VMM, paging). */
export const MEMORY_KINDS = ["flat", "machine"] as const;
export type MemoryKind = (typeof MEMORY_KINDS)[number];

/** Short names --heap accepts for the first-party heaps; anything else is a plugin specifier. */
export const HEAP_SHORT_NAMES: Readonly<Record<string, string>> = {
  "list-heap": "@allockit/core/list-heap",
  "heap-slab": "@allockit/heap-slab",
  "heap-bucket": "@allockit/heap-bucket",
  "heap-guard": "@allockit/heap-guard",
};

/** The machine --memory machine boots (core's heap testbed): long mode over a buddy PMM. */
export const MACHINE_DEFAULTS = {
  ramMiB: HEAP_TESTBED_MACHINE.ramMiB,
  mode: HEAP_TESTBED_MACHINE.mode,
  pmm: "buddy",
} as const;

/** Flat memory for --memory flat: room for a trace's peak with any heap's overhead. */
export const FLAT_MEMORY_MIB = HEAP_TESTBED_FLAT_MIB;

export interface HeapSystemFlags {
  /** A short name (list-heap, heap-slab, heap-bucket, heap-guard) or a plugin specifier. */
  heap: string;
  memory: string;
  /** Machine only: RAM in MiB, paging mode and PMM short name or specifier. */
  ramMiB?: number;
  mode?: string;
  pmm?: string;
}

/** The config that runs `flags.heap` on flat memory or on the booted machine. */
export function heapSystemConfig(flags: HeapSystemFlags): AllockitConfig {
  const heap = { plugin: HEAP_SHORT_NAMES[flags.heap] ?? flags.heap, options: {} };
  if (flags.memory !== "flat" && flags.memory !== "machine") {
    throw new AllocatorError(
      "EINVAL",
      `--memory ${JSON.stringify(flags.memory)} is not one of ${MEMORY_KINDS.join(", ")}`,
      flags.memory,
    );
  }
  const pmm = flags.pmm ?? MACHINE_DEFAULTS.pmm;
  return heapTestbedConfig(heap, flags.memory, {
    ...(flags.ramMiB === undefined ? {} : { ramMiB: flags.ramMiB }),
    ...(flags.mode === undefined ? {} : { mode: flags.mode }),
    pmm: PMM_SHORT_NAMES[pmm] ?? pmm,
  });
}

/** How a config from flags is named in reports. */
export function heapSystemSource(flags: HeapSystemFlags): string {
  return `--heap ${flags.heap} --memory ${flags.memory}`;
}

/**
 * The system of a command that takes either a config file or `--heap` / `--memory`: the heap
 * flags when given (both at once is an EINVAL naming the file), else the config file, else
 * core's DEFAULT_CONFIG.
 */
export async function composeFileOrHeap(
  configFile: string | undefined,
  heap: HeapSystemFlags | undefined,
): Promise<LoadedSystem> {
  if (heap === undefined) return composeSystem(configFile);
  if (configFile !== undefined) {
    throw new AllocatorError(
      "EINVAL",
      `give either a config file (${configFile}) or --heap / --memory, not both`,
      configFile,
    );
  }
  return composeConfig(heapSystemConfig(heap), heapSystemSource(heap));
}
