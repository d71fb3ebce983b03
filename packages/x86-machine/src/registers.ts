/**
 * Control-register and flag bits the machine models (Intel SDM vol. 3A, 2.5 and 4.1).
 */

export const CR0_PE = 1 << 0;
export const CR0_WP = 1 << 16;
export const CR0_PG = 0x80000000;

export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;
export const CR4_SMEP = 1 << 20;
export const CR4_SMAP = 1 << 21;

export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;

export const RFLAGS_AC = 1 << 18;

/** The paging mode the control registers select. */
export type PagingMode = "none" | "32bit" | "pae" | "long";

/** Interrupt vectors the machine raises. */
export const VECTOR_DF = 8;
export const VECTOR_GP = 13;
export const VECTOR_PF = 14;
