/**
 * PAE paging (CR0.PG=1, CR4.PAE=1, not IA-32e): four PDPTEs loaded into registers when CR3 is
 * written, then page directories and tables of 512 8-byte entries; 2 MiB pages with PDE.PS=1;
 * XD at bit 63 when EFER.NXE=1 (SDM 4.4, tables 4-8 to 4-11).
 */

export function pdpteIndex(va: number): number {
  return va >>> 30;
}

export function pdeIndex(va: number): number {
  return (va >>> 21) & 511;
}

export function pteIndex(va: number): number {
  return (va >>> 12) & 511;
}

/** PDPT base from CR3 (bits 31:5: the table is 32-byte aligned). */
export function pdptBase(cr3: number): number {
  return (cr3 & 0xffffffe0) >>> 0;
}

/** Reserved low bits of a present PDPTE: 2:1 and 8:5. */
export const PDPTE_RESERVED_LOW = 0x1e6;

/** Reserved bits 20:13 of a PDE mapping a 2 MiB page. */
export const LARGE_PAGE_RESERVED_LOW = 0x1fe000;

/**
 * Reserved bits of the high half: 62:M (and bit 63 too, where `withXd`: the PDPTEs always, the
 * other levels when EFER.NXE=0).
 */
export function highReservedMask(maxPhysAddr: number, withXd: boolean): number {
  const mask = 0x7fffffff & ~((1 << (maxPhysAddr - 32)) - 1);
  return (withXd ? mask | 0x80000000 : mask) >>> 0;
}
