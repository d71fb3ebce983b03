/** Types of firmware memory-map entries (E820 types 1-5, others kept as "unknown"). */
export type MemoryType =
  "usable" | "reserved" | "acpi-reclaimable" | "acpi-nvs" | "bad" | "unknown";

/** One entry of a firmware memory map. `raw` keeps the firmware's type number. */
export interface MemoryMapEntry {
  base: number;
  length: number;
  type: MemoryType;
  raw?: number;
}

export type MemoryMap = readonly MemoryMapEntry[];

/** A physical range, optionally named ("kernel", "module 0", "frame 0"...). */
export interface PhysRange {
  base: number;
  length: number;
  name?: string;
}
