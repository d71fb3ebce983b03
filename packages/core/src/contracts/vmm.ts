import type { PageSource } from "./page-source.js";

/** Kinds of virtual region. */
export type RegionKind =
  /** Demand-zero anonymous memory. */
  | "anonymous"
  /** Mapped to given frames (kernel image, MMIO); never freed to the PMM. */
  | "fixed"
  /** Demand-paged, growable heap. */
  | "heap"
  /** Stack with an unmapped guard page below it. */
  | "stack"
  /** Reserved, never mapped. */
  | "guard";

export interface Protection {
  write: boolean;
  user: boolean;
  execute: boolean;
}

export interface MapRequest {
  kind: RegionKind;
  sizeBytes: number;
  /** Fixed virtual address; otherwise a gap is searched. */
  at?: number;
  /** Search gaps from the top of the range down. */
  topDown?: boolean;
  /** For "fixed": the physical address the region maps to. */
  physical?: number;
  protection: Protection;
  /** Make pages present now instead of on first touch. */
  commit?: boolean;
  name?: string;
}

export interface Region {
  start: number;
  sizeBytes: number;
  kind: RegionKind;
  protection: Protection;
  name: string;
}

/** One address space: its regions and its page tables. */
export interface AddressSpace {
  readonly id: number;
  /** Maps a region; returns its start address, or 0 when no gap fits / memory runs out. */
  map(request: MapRequest): number;
  unmap(addr: number, sizeBytes: number): void;
  protect(addr: number, sizeBytes: number, protection: Protection): void;
  /** Makes the pages present now. */
  commit(addr: number, sizeBytes: number): void;
  /** Gives the frames back but keeps the range reserved. */
  decommit(addr: number, sizeBytes: number): void;
  /** Physical address behind `addr`, or -1 when not mapped. */
  translate(addr: number): number;
  /** Loads this space's page tables (CR3). */
  activate(): void;
  regions(): Region[];
  /** A PageSource over a heap region of this space. */
  pageSource(region: number): PageSource;
  /** Returns every frame and page-table page to the PMM. */
  destroy(): void;
}

export interface VirtualMemoryManager {
  readonly name: string;
  readonly kernelSpace: AddressSpace;
  createSpace(): AddressSpace;
  readonly current: AddressSpace;
}
