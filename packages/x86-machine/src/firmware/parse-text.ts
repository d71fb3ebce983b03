import { AllocatorError, type MemoryMapEntry } from "@allockit/core";
import { isDmesgEntryLine, parseDmesgMemoryMap } from "./dmesg.js";
import { isSysfsEntryLine, parseSysfsMemoryMap } from "./sysfs.js";

/** Reading a memory map from text whose format is not known in advance. */

export type MemoryMapTextFormat = "dmesg" | "sysfs";

/**
 * Which format the text is in: "dmesg" when any line is a `BIOS-e820:` entry, else "sysfs"
 * when any line starts with a hex address, else undefined.
 */
export function detectMemoryMapFormat(text: string): MemoryMapTextFormat | undefined {
  const lines = String(text).split(/\r?\n/);
  if (lines.some(isDmesgEntryLine)) return "dmesg";
  if (lines.some(isSysfsEntryLine)) return "sysfs";
  return undefined;
}

/**
 * The entries of a memory map in either text format (see parseDmesgMemoryMap and
 * parseSysfsMemoryMap), unnormalised. EINVAL when the text holds no map entries at all, or
 * for a malformed entry line.
 */
export function parseMemoryMapText(text: string): MemoryMapEntry[] {
  const format = detectMemoryMapFormat(text);
  if (format === "dmesg") return parseDmesgMemoryMap(text);
  if (format === "sysfs") return parseSysfsMemoryMap(text);
  const preview = String(text).trim().slice(0, 60);
  throw new AllocatorError(
    "EINVAL",
    `no memory map entries (BIOS-e820: lines or /sys/firmware/memmap lines) in text ${JSON.stringify(preview)}`,
    text,
  );
}
