/**
 * 32-bit paging (CR0.PG=1, CR4.PAE=0): a page directory of 1024 4-byte PDEs, page tables of
 * 1024 PTEs; 4 MiB pages when CR4.PSE=1 and PDE.PS=1, with PSE-36 address bits 39:32 in PDE
 * bits 20:13 (SDM 4.3, tables 4-4 to 4-6).
 */

export const PD_SHIFT = 22;
export const LARGE_PAGE_SHIFT = 22;

export function pdeIndex(va: number): number {
  return va >>> 22;
}

export function pteIndex(va: number): number {
  return (va >>> 12) & 0x3ff;
}

/** Page-directory base from CR3 (bits 31:12). */
export function directoryBase(cr3: number): number {
  return (cr3 & 0xfffff000) >>> 0;
}

/**
 * Reserved bits of a 4 MiB PDE: bits 21:(M-19), where M is MAXPHYADDR capped at 40 (PSE-36
 * carries at most 8 extra address bits). With M = 32 that is all of 21:13.
 */
export function largePageReservedMask(maxPhysAddr: number): number {
  const m = Math.min(maxPhysAddr, 40);
  const lowest = m - 19; // first reserved bit
  return (0x3fffff & ~((1 << lowest) - 1) & ~0x1fff) >>> 0;
}

/** Physical address bits 39:32 of a 4 MiB page, from PDE bits 20:13. */
export function largePageHighBits(pde: number): number {
  return (pde >>> 13) & 0xff;
}
