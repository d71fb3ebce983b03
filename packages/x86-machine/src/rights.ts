import { CR0_WP, CR4_SMAP, CR4_SMEP, RFLAGS_AC } from "./registers.js";
import { TLB_NX, TLB_USER, TLB_WRITABLE } from "./tlb.js";

/**
 * Access rights, SDM vol. 3A 4.6.1: whether an access may use a translation, given the rights
 * combined over every level of the walk (TLB_* flags) and the control bits in force. Kept apart
 * from the walk because the TLB evaluates them again on every access.
 */

/** Access kinds as numbers on the hot path. */
export const READ = 0;
export const WRITE = 1;
export const FETCH = 2;
export type AccessKind = "read" | "write" | "fetch";
export const KIND_NAMES: readonly AccessKind[] = ["read", "write", "fetch"];

/**
 * @param user a user-mode access (CPL 3 and not an implicit supervisor access)
 * @param implicit an implicit supervisor-mode access (GDT, IDT, TSS): SMAP ignores RFLAGS.AC
 */
export function accessAllowed(
  kind: number,
  flags: number,
  user: boolean,
  implicit: boolean,
  cr0: number,
  cr4: number,
  rflags: number,
): boolean {
  const userPage = (flags & TLB_USER) !== 0;
  const writable = (flags & TLB_WRITABLE) !== 0;
  const noExecute = (flags & TLB_NX) !== 0;
  if (user) {
    if (!userPage) return false;
    if (kind === WRITE) return writable;
    if (kind === FETCH) return !noExecute;
    return true;
  }
  if (kind === FETCH) return !(userPage && (cr4 & CR4_SMEP) !== 0) && !noExecute;
  // SMAP: explicit supervisor accesses may touch user pages only with RFLAGS.AC=1.
  const smapBlocks = userPage && (cr4 & CR4_SMAP) !== 0 && (implicit || (rflags & RFLAGS_AC) === 0);
  if (kind === READ) return !smapBlocks;
  return !smapBlocks && (writable || (cr0 & CR0_WP) === 0);
}

/** The rule that denied an access, in words (for fault reports). */
export function accessDeniedBecause(
  kind: number,
  flags: number,
  user: boolean,
  implicit: boolean,
  cr4: number,
): string {
  const userPage = (flags & TLB_USER) !== 0;
  if (user) {
    if (!userPage)
      return "user-mode access to a supervisor-mode page (U/S=0 in at least one level)";
    if (kind === WRITE) return "user-mode write to a read-only page (R/W=0 in at least one level)";
    return "user-mode instruction fetch from an execute-disable page (XD=1 in at least one level, EFER.NXE=1)";
  }
  const who = implicit ? "implicit supervisor-mode" : "supervisor-mode";
  if (kind === FETCH) {
    if (userPage && (cr4 & CR4_SMEP) !== 0) {
      return "SMEP: supervisor-mode instruction fetch from a user-mode page (CR4.SMEP=1)";
    }
    return "supervisor-mode instruction fetch from an execute-disable page (XD=1 in at least one level, EFER.NXE=1)";
  }
  if (userPage && (cr4 & CR4_SMAP) !== 0) {
    return implicit
      ? `SMAP: ${who} data ${KIND_NAMES[kind]} of a user-mode page (implicit accesses ignore RFLAGS.AC)`
      : `SMAP: ${who} data ${KIND_NAMES[kind]} of a user-mode page with RFLAGS.AC=0`;
  }
  return `${who} write to a read-only page with CR0.WP=1 (R/W=0 in at least one level)`;
}
