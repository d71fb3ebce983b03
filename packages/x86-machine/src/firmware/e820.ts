import { memoryTypeFromE820, type MemoryMapEntry } from "@allockit/core";
import { checkU64Number } from "./binary.js";

/**
 * E820 entries: the BIOS memory map's type numbers and the MemoryMapEntry made from one
 * (base, length, type number) triple. Types 1-5 become core's five memory types; every other
 * number becomes "unknown" with the number kept in `raw`, so that writing the map back out
 * (multiboot, dmesg) gives the firmware's number again.
 */

/** E820 type numbers, named as Linux names them (arch/x86/include/asm/e820/types.h). */
export const E820Type = {
  RAM: 1,
  RESERVED: 2,
  ACPI: 3,
  NVS: 4,
  UNUSABLE: 5,
  PMEM: 7,
  /** Legacy persistent memory; older firmware used 6 for it. */
  PRAM: 12,
  SOFT_RESERVED: 0xefffffff,
} as const;

/**
 * The map entry for one E820 triple. `raw` is kept only for unknown types, where it is the
 * identity. EINVAL for a base or length that is not an integer in 0 .. 2^53-1, or a type that
 * is not a u32.
 */
export function e820Entry(base: number, length: number, rawType: number): MemoryMapEntry {
  checkU64Number(base, "E820 base");
  checkU64Number(length, "E820 length");
  const type = memoryTypeFromE820(rawType);
  return type === "unknown" ? { base, length, type, raw: rawType } : { base, length, type };
}

/** "usable", "reserved", ... as core names them; unknown types as "unknown (type 12)". */
export function memoryTypeLabel(entry: MemoryMapEntry): string {
  if (entry.type !== "unknown") return entry.type;
  return entry.raw === undefined ? "unknown" : `unknown (type ${entry.raw})`;
}
