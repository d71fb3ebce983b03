/**
 * Bits of paging-structure entries common to all modes (low 32 bits of an entry), the execute-
 * disable bit (bit 63 = bit 31 of the high half), and the page-fault error code
 * (SDM vol. 3A, 4.3-4.7).
 */

export const PTE_P = 1 << 0;
export const PTE_RW = 1 << 1;
export const PTE_US = 1 << 2;
export const PTE_PWT = 1 << 3;
export const PTE_PCD = 1 << 4;
export const PTE_A = 1 << 5;
export const PTE_D = 1 << 6;
/** Page size in a PDE / PDPTE; PAT in a 4 KiB PTE. */
export const PTE_PS = 1 << 7;
export const PTE_G = 1 << 8;
/** PAT bit of a large-page entry. */
export const PTE_PAT_LARGE = 1 << 12;
/** Execute-disable, bit 63: bit 31 of the high half. */
export const PTE_XD_HIGH = 0x80000000;

/** Address bits 31:12 of an entry's low half. */
export const ADDR_LOW_4K = 0xfffff000;

// Page-fault error code (SDM 4.7).
export const PF_P = 1 << 0;
export const PF_W = 1 << 1;
export const PF_U = 1 << 2;
export const PF_RSVD = 1 << 3;
export const PF_I = 1 << 4;

/** Names of the low flag bits, for explanations. */
export const FLAG_NAMES: ReadonlyArray<[number, string]> = [
  [PTE_P, "P"],
  [PTE_RW, "RW"],
  [PTE_US, "US"],
  [PTE_PWT, "PWT"],
  [PTE_PCD, "PCD"],
  [PTE_A, "A"],
  [PTE_D, "D"],
  [PTE_PS, "PS"],
  [PTE_G, "G"],
];

/** Decodes a page-fault error code: "P W U RSVD I" for the bits that are set. */
export function describeErrorCode(code: number): string {
  const parts = [
    code & PF_P ? "protection violation (P=1)" : "page not present (P=0)",
    code & PF_W ? "write" : "read",
    code & PF_U ? "user-mode" : "supervisor-mode",
  ];
  if (code & PF_RSVD) parts.push("reserved bit set (RSVD=1)");
  if (code & PF_I) parts.push("instruction fetch (I=1)");
  return parts.join(", ");
}
