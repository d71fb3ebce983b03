import { hex } from "@allockit/core";
import { FLAG_NAMES, PTE_XD_HIGH } from "./paging/entry-bits.js";
import type { PagingMode } from "./registers.js";

/** One paging-structure entry read by a walk. */
export interface WalkLevel {
  /** "PML4E", "PDPTE", "PDE", "PTE", or "PDPTE (register)" in PAE mode. */
  name: string;
  /** Index of the entry in its table. */
  index: number;
  /** Physical address of the entry. */
  entryAddress: number;
  low: number;
  /** High half of an 8-byte entry (0 for 4-byte entries). */
  high: number;
  /** 8-byte entry (PAE and 4-level paging). */
  wide: boolean;
}

/** A walk, level by level, with its outcome: what `allockit walk` prints. */
export interface WalkTrace {
  mode: PagingMode;
  address: number;
  access: "read" | "write" | "fetch";
  levels: WalkLevel[];
  ok: boolean;
  physical?: number;
  errorCode?: number;
  /** The final physical address, or the fault and the rule that caused it. */
  outcome: string;
}

/** Flag names set in an entry, e.g. "P RW US A XD". */
export function decodeEntryFlags(level: WalkLevel): string {
  const names = FLAG_NAMES.filter(([bit]) => (level.low & bit) !== 0).map(([, name]) => name);
  if (level.wide && (level.high & PTE_XD_HIGH) !== 0) names.push("XD");
  return names.length === 0 ? "-" : names.join(" ");
}

/** The raw value of an entry in hex (8 or 16 digits). */
export function formatEntry(level: WalkLevel): string {
  return level.wide
    ? "0x" +
        (level.high >>> 0).toString(16).padStart(8, "0") +
        (level.low >>> 0).toString(16).padStart(8, "0")
    : hex(level.low >>> 0, 8);
}
