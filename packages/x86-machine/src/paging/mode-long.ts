/**
 * IA-32e 4-level paging (CR0.PG=1, CR4.PAE=1, EFER.LME=1 so LMA=1): PML4, PDPT, PD and PT of
 * 512 8-byte entries; 1 GiB pages (PDPTE.PS=1, where supported) and 2 MiB pages (PDE.PS=1);
 * bits 62:52 ignored (available); XD at bit 63 when EFER.NXE=1 (SDM 4.5, tables 4-14 to 4-20).
 * Linear addresses are 48-bit, held packed: 0 .. 2^48-1.
 */

const TWO_POW_39 = 2 ** 39;
const TWO_POW_30 = 2 ** 30;
const TWO_POW_21 = 2 ** 21;

export function pml4Index(va: number): number {
  return Math.floor(va / TWO_POW_39) & 511;
}

export function pdptIndex(va: number): number {
  return Math.floor(va / TWO_POW_30) & 511;
}

export function pdIndex(va: number): number {
  return Math.floor(va / TWO_POW_21) & 511;
}

export function ptIndex(va: number): number {
  return Math.floor(va / 4096) & 511;
}

/** Reserved bits 29:13 of a PDPTE mapping a 1 GiB page. */
export const HUGE_PAGE_RESERVED_LOW = 0x3fffe000;

/** Reserved bits 20:13 of a PDE mapping a 2 MiB page. */
export const LARGE_PAGE_RESERVED_LOW = 0x1fe000;

/** Reserved bits 51:M of the high half (bits 62:52 are ignored), plus bit 63 when NXE=0. */
export function highReservedMask(maxPhysAddr: number, withXd: boolean): number {
  const mask = 0xfffff & ~((1 << (maxPhysAddr - 32)) - 1);
  return (withXd ? mask | 0x80000000 : mask) >>> 0;
}

/** Physical address held in an entry whose reserved bits are clear: bits 51:12. */
export function entryAddress(low: number, high: number): number {
  return (high & 0xfffff) * 4294967296 + ((low & 0xfffff000) >>> 0);
}
