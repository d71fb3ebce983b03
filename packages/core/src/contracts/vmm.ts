import type { Memory } from "./memory.js";
import type { PageSource } from "./page-source.js";
import type { PhysRange } from "./memory-map.js";

/** Kinds of virtual region. */
export type RegionKind =
  /** Demand-zero anonymous memory: reads map a shared zero page, the first write a private frame. */
  | "anonymous"
  /** Mapped to given frames (kernel image, MMIO); never freed to the PMM. */
  | "fixed"
  /** Demand-paged, growable heap. */
  | "heap"
  /** Demand-zero stack with an unmapped guard page below it. */
  | "stack"
  /** Reserved, never mapped: every access faults. */
  | "guard";

/** Access rights of a region. `execute: false` sets XD where the mode has it (PAE, long). */
export interface Protection {
  write: boolean;
  /** Reachable at CPL 3 (U/S = 1). */
  user: boolean;
  execute: boolean;
}

export interface MapRequest {
  kind: RegionKind;
  /** Size in bytes, a positive multiple of the page size. */
  sizeBytes: number;
  /** Fixed virtual address (page-aligned); otherwise a gap is searched. */
  at?: number;
  /** Search gaps from the top of the space's range down (default: bottom up). */
  topDown?: boolean;
  /** Alignment of a searched address, a power of two >= the page size. */
  align?: number;
  /** For "fixed": the physical address the region maps to (page-aligned). */
  physical?: number;
  /** Default: read/write, supervisor, no execute. */
  protection?: Protection;
  /** Make the pages present now instead of on first touch. */
  commit?: boolean;
  name?: string;
}

export interface Region {
  /** First usable address (for a stack, above its guard page). */
  start: number;
  sizeBytes: number;
  kind: RegionKind;
  protection: Protection;
  name: string;
  /** For "fixed": the physical address of `start`. */
  physical?: number;
  /** Bytes of unmapped guard below `start` that belong to the region (stacks). */
  guardBytes: number;
  /** Pages with a private frame behind them now. */
  committedPages: number;
}

/** Counters of one address space. */
export interface AddressSpaceStats {
  regions: number;
  /** Bytes the regions reserve, guards included. */
  reservedBytes: number;
  /** Private frames mapped (demand-zero and committed pages). */
  privateFrames: number;
  /** Present PTEs pointing at the shared zero page. */
  zeroPageMappings: number;
  /** Page-table pages this space owns (not the shared kernel ones). */
  pageTablePages: number;
}

/**
 * One address space: a region tree over its half of the linear address space and the page
 * tables behind it. The kernel space holds the kernel half, which every user space shares; a
 * user space holds only its user half. Linear addresses are packed 48-bit numbers in long mode.
 */
export interface AddressSpace {
  readonly id: number;
  readonly kernel: boolean;
  /** The range its regions may occupy: [low, high). */
  readonly low: number;
  readonly high: number;
  /** Physical address of its top-level table (what CR3 holds). */
  readonly root: number;
  /**
   * Maps a region; returns its start, or 0 when no gap fits or memory runs out. Bad arguments,
   * a fixed address outside the range or overlapping a region raise a typed error.
   */
  map(request: MapRequest): number;
  /** Unmaps every page of the range (a partial unmap splits a region); frames go back. */
  unmap(addr: number, sizeBytes: number): void;
  /** Changes the rights of every page of the range, which regions must cover. */
  protect(addr: number, sizeBytes: number, protection: Protection): void;
  /** Makes the pages present now; false when memory ran out (what was committed stays). */
  commit(addr: number, sizeBytes: number): boolean;
  /** Gives the frames back but keeps the range reserved; the next touch demand-zeroes. */
  decommit(addr: number, sizeBytes: number): void;
  /** Physical address behind `addr`, or -1 when nothing is mapped there. */
  translate(addr: number): number;
  /** Loads this space's tables into a CPU's CR3 (default the boot CPU). */
  activate(cpu?: number): void;
  regions(): Region[];
  /** The region containing `addr` (its guard included), or undefined. */
  regionAt(addr: number): Region | undefined;
  /** A PageSource over the heap region starting at `regionStart`. */
  pageSource(regionStart: number): PageSource;
  stats(): AddressSpaceStats;
  /** Returns every frame and page-table page to the PMM. The kernel space cannot be destroyed. */
  destroy(): void;
  readonly destroyed: boolean;
}

/** How the VMM reaches page tables once paging is on. */
export type PageTableAccess = "direct-map" | "recursive" | "window";

/** Counters of a VMM. */
export interface VmmStats {
  spaces: number;
  /** Page faults the handler resolved, by cause. */
  demandZeroFaults: number;
  copyOnWriteFaults: number;
  heapGrowthFaults: number;
  /** Faults it could not resolve (raised as AccessFault). */
  badFaults: number;
  invlpgs: number;
  /** INVLPGs sent to other CPUs. */
  shootdowns: number;
  /** Frames taken for page tables, in total; and those still held. */
  pageTablePages: number;
  /** Frames taken from the PMM and not yet returned. */
  framesHeld: number;
}

/** One boot stage: what it did and the physical memory it took. */
export interface BootStage {
  name: string;
  /** Lines describing what the stage set up. */
  details: string[];
  /** Frames the stage took (from the boot allocator or the PMM). */
  frames: number;
  /** Wall-clock milliseconds. */
  ms: number;
}

/** What a VMM needs to build the kernel's page tables and turn paging on. */
export interface VmmBootContext {
  /** The machine object of the machine plugin. */
  machine: unknown;
  /** The normalised firmware map. */
  memoryMap: import("./memory-map.js").MemoryMap;
  /** Ranges taken before the PMM: frame 0, kernel image, modules, boot allocations. */
  kernelImage: PhysRange;
  bootAllocations: readonly PhysRange[];
  pmm: import("./pmm.js").PhysicalMemoryManager;
}

export interface VirtualMemoryManager {
  readonly name: string;
  /** Paging mode ("32bit", "pae", "long"). */
  readonly mode: string;
  readonly access: PageTableAccess;
  /** The memory the kernel reaches through (the boot CPU, at CPL 0). */
  readonly memory: Memory;
  /** Builds the kernel page tables and turns paging on; returns the stages it ran. */
  boot(context: VmmBootContext): BootStage[];
  readonly kernelSpace: AddressSpace;
  /** The kernel heap's PageSource (a heap region of the kernel space). */
  readonly kernelHeap: PageSource;
  createSpace(): AddressSpace;
  /** The space loaded on a CPU (default the boot CPU). */
  current(cpu?: number): AddressSpace;
  spaces(): AddressSpace[];
  stats(): VmmStats;
  /** Walks every space's regions and page tables; throws ECORRUPT on any inconsistency. */
  check(): void;
}

/** A fault the VMM could not resolve, as it reports it. */
export interface FaultReport {
  /** The faulting linear address (packed in long mode), and as printed. */
  address: number;
  formatted: string;
  access: "read" | "write" | "fetch";
  cpl: number;
  cpu: number;
  /** The region the address lies in, or undefined. */
  region: Region | undefined;
  /** Id of the space that was loaded. */
  space: number;
  reason: string;
  errorCode: number;
}
