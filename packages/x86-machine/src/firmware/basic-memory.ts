import { KiB, MiB, subtractRanges, type MemoryMap, type PhysRange } from "@allockit/core";

/**
 * The Multiboot "basic memory information" (multiboot1 mem_lower / mem_upper, multiboot2 tag
 * 4), derived from a memory map as the specifications define it: lower memory is the usable RAM
 * starting at address 0 (at most 640 KiB), upper memory the usable RAM starting at 1 MiB up to
 * the first hole. Both in KiB, rounded down.
 */
export interface MultibootBasicMemory {
  memLowerKiB: number;
  memUpperKiB: number;
}

const LOWER_MEMORY_LIMIT = 640 * KiB;
const UPPER_MEMORY_BASE = MiB;
/** Both fields are u32. */
const U32_MAX = 0xffffffff;

/**
 * mem_lower and mem_upper for `map`. Usable bytes that any other entry also covers do not count,
 * so a reserved island inside RAM ends upper memory where it starts. EINVAL for a malformed
 * entry.
 */
export function multibootBasicMemory(map: MemoryMap): MultibootBasicMemory {
  const usable: PhysRange[] = [];
  const other: PhysRange[] = [];
  for (const entry of map) {
    (entry.type === "usable" ? usable : other).push({ base: entry.base, length: entry.length });
  }
  let memLowerKiB = 0;
  let memUpperKiB = 0;
  for (const range of subtractRanges(usable, other)) {
    const end = range.base + range.length;
    if (range.base === 0) {
      memLowerKiB = Math.floor(Math.min(end, LOWER_MEMORY_LIMIT) / KiB);
    }
    if (range.base <= UPPER_MEMORY_BASE && end > UPPER_MEMORY_BASE) {
      memUpperKiB = Math.min(Math.floor((end - UPPER_MEMORY_BASE) / KiB), U32_MAX);
    }
  }
  return { memLowerKiB, memUpperKiB };
}
