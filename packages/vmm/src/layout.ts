import { AllocatorError, GiB, MiB, packCanonical } from "@allockit/core";

/** The paging modes a VMM can run in. */
export type VmmMode = "32bit" | "pae" | "long";
export const VMM_MODES: readonly VmmMode[] = ["32bit", "pae", "long"];

/**
 * Where everything lives in one paging mode: the table geometry and the kernel half's map.
 *
 * Levels are numbered from the top: level 0 is what CR3 points at (the page directory in 32-bit
 * paging, the PDPT in PAE, the PML4 in long mode); the last level holds the 4 KiB PTEs.
 *
 * The kernel half (from `kernelBase`) is shared by every space: the tables one level below
 * `shareLevel` are allocated once at boot for the whole kernel half and every space's table at
 * `shareLevel` copies the entries pointing at them, so a kernel mapping made later, from any
 * space, lands in a table every space already reaches.
 */
export interface Layout {
  readonly mode: VmmMode;
  readonly levels: number;
  /** Bytes per entry: 4 (32-bit) or 8. */
  readonly entryBytes: number;
  /** Index shift of each level (the bit where its index starts). */
  readonly shifts: readonly number[];
  /** Entries per table at each level (4 for the PAE PDPT). */
  readonly entries: readonly number[];
  /** End of the linear address space (2^32, or 2^48 packed). */
  readonly linearLimit: number;
  /** Start of the kernel half. */
  readonly kernelBase: number;
  /** Level whose kernel-half entries are copied into every space. */
  readonly shareLevel: number;
  /** Linear address where the kernel image is mapped, plus its physical address. */
  readonly imageBase: number;
  /** Largest physical address the image mapping can reach. */
  readonly imageLimit: number;
  /** Direct map of RAM: base and the physical limit it can cover. */
  readonly directMapBase: number;
  readonly directMapLimit: number;
  /** Page size the direct map uses. */
  readonly directMapPage: number;
  /** Kernel heap region: where it starts and how far it may grow. */
  readonly heapBase: number;
  readonly heapLimit: number;
  /** The recursive slot: its entry indices in the share-level table and the area it maps. */
  readonly recursiveSlots: readonly number[];
  readonly recursiveBase: number;
  readonly recursiveEnd: number;
  /** The temporary mapping window: one page table's worth of pages at this address. */
  readonly windowBase: number;
  /** Pages of the window (its first page maps the window's own page table). */
  readonly windowPages: number;
  /** Physical frames must lie below this (2^32 in 32-bit paging). */
  readonly physLimit: number;
}

const TWO_POW_32 = 4294967296;

/** The layout of `mode`. `page1GB`: the CPU maps 1 GiB pages (long-mode direct map). */
export function layoutFor(mode: VmmMode, maxPhysAddr: number, page1GB: boolean): Layout {
  switch (mode) {
    case "32bit":
      // 3 GiB / 1 GiB split. PD entries 768..1023 form the kernel half; 1023 is the recursive
      // slot, the window's page table sits in entry 1022.
      return {
        mode,
        levels: 2,
        entryBytes: 4,
        shifts: [22, 12],
        entries: [1024, 1024],
        linearLimit: TWO_POW_32,
        kernelBase: 0xc0000000,
        shareLevel: 0,
        imageBase: 0xc0000000,
        imageLimit: 512 * MiB,
        directMapBase: 0xc0000000,
        directMapLimit: 512 * MiB,
        directMapPage: 4 * MiB,
        heapBase: 0xe0000000,
        heapLimit: 0xf0000000,
        recursiveSlots: [1023],
        recursiveBase: 0xffc00000,
        recursiveEnd: TWO_POW_32,
        windowBase: 0xff800000,
        windowPages: 16,
        physLimit: TWO_POW_32,
      };
    case "pae":
      // PDPT entry 3 is the kernel half; its page directory is copied per space so that
      // entries 508..511 can point at the space's own four directories (the recursive slots).
      return {
        mode,
        levels: 3,
        entryBytes: 8,
        shifts: [30, 21, 12],
        entries: [4, 512, 512],
        linearLimit: TWO_POW_32,
        kernelBase: 0xc0000000,
        shareLevel: 1,
        imageBase: 0xc0000000,
        imageLimit: 512 * MiB,
        directMapBase: 0xc0000000,
        directMapLimit: 512 * MiB,
        directMapPage: 2 * MiB,
        heapBase: 0xe0000000,
        heapLimit: 0xf0000000,
        recursiveSlots: [508, 509, 510, 511],
        recursiveBase: 0xff800000,
        recursiveEnd: TWO_POW_32,
        windowBase: 0xff600000,
        windowPages: 16,
        physLimit: 2 ** maxPhysAddr,
      };
    case "long": {
      // PML4 entries 256..511 are the kernel half: 256.. the direct map (0xffff800000000000),
      // 288.. the kernel heap (0xffff900000000000), 510 the recursive slot, and 511 the image
      // at 0xffffffff80000000 with the window in its top 2 MiB.
      const pml4 = 2 ** 39;
      return {
        mode,
        levels: 4,
        entryBytes: 8,
        shifts: [39, 30, 21, 12],
        entries: [512, 512, 512, 512],
        linearLimit: 2 ** 48,
        kernelBase: 256 * pml4,
        shareLevel: 0,
        imageBase: packCanonical("0xffffffff80000000"),
        imageLimit: 2 * GiB - 2 * MiB,
        directMapBase: 256 * pml4,
        directMapLimit: Math.min(2 ** maxPhysAddr, 32 * pml4),
        directMapPage: page1GB ? GiB : 2 * MiB,
        heapBase: 288 * pml4,
        heapLimit: 320 * pml4,
        recursiveSlots: [510],
        recursiveBase: 510 * pml4,
        recursiveEnd: 511 * pml4,
        windowBase: packCanonical("0xffffffffffe00000"),
        windowPages: 16,
        physLimit: 2 ** maxPhysAddr,
      };
    }
    default:
      throw new AllocatorError(
        "EINVAL",
        `paging mode ${JSON.stringify(mode)} is not 32bit, pae or long`,
        mode,
      );
  }
}

/** Index of `va` in a table of `level`. */
export function indexAt(layout: Layout, level: number, va: number): number {
  return Math.floor(va / 2 ** layout.shifts[level]!) % layout.entries[level]!;
}

/** Bytes one entry of `level` covers. */
export function spanAt(layout: Layout, level: number): number {
  return 2 ** layout.shifts[level]!;
}
