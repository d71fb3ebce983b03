import {
  AllocatorError,
  e820TypeNumber,
  hex,
  type MemoryMap,
  type MemoryMapEntry,
} from "@allockit/core";
import { checkU64Number } from "./binary.js";
import { E820Type, e820Entry } from "./e820.js";
import {
  exclusiveSpan,
  inclusiveSpan,
  malformedLine,
  numberedLines,
  parseHexField,
  type NumberedLine,
} from "./lines.js";

/**
 * The firmware map as Linux prints it at boot (arch/x86/kernel/e820.c, e820__print_table):
 *
 *   [    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
 *
 * with the end inclusive. Kernels before 3.x printed `BIOS-e820: 0000000000000000 -
 * 000000000009fc00 (usable)` with the end exclusive; that form is read too. Newer kernels may
 * put a size ("639 KB") before the type and print gaps as `[gap ...]` lines.
 */

/** The type words Linux has printed, lower-cased, and their E820 numbers. */
const TYPE_BY_NAME: ReadonlyMap<string, number> = new Map([
  ["usable", E820Type.RAM],
  ["kernel usable ram", E820Type.RAM],
  ["system ram", E820Type.RAM],
  ["reserved", E820Type.RESERVED],
  ["device reserved", E820Type.RESERVED],
  ["soft reserved", E820Type.SOFT_RESERVED],
  ["acpi data", E820Type.ACPI],
  ["acpi nvs", E820Type.NVS],
  ["unusable", E820Type.UNUSABLE],
]);

/** "type 12", "persistent (type 12)", "persistent RAM (type 7)". */
const NUMBERED_TYPE = /^(?:persistent(?: ram)? \(type (\d+)\)|type (\d+))$/;

const MEM_FORM = /BIOS-e820:\s*\[mem\s+(\S+?)-(\S+?)\]\s*(.*)$/i;
const OLD_FORM = /BIOS-e820:\s*([0-9a-f]+)\s*-\s*([0-9a-f]+)\s*(.*)$/i;
const GAP_FORM = /BIOS-e820:\s*\[gap\b/i;
/** The size newer kernels print between the range and the type: "639 KB", "1.9 GB". */
const SIZE_PREFIX = /^\d+(?:\.\d+)?\s+[KMGT]B\s+/i;

const U32_LIMIT = 2 ** 32;

function parseTypeName(text: string, line: NumberedLine): number {
  const name = text.trim().replace(/\s+/g, " ").toLowerCase();
  if (name === "") throw malformedLine(line, "the entry has no type");
  const known = TYPE_BY_NAME.get(name);
  if (known !== undefined) return known;
  const numbered = NUMBERED_TYPE.exec(name);
  if (numbered !== null) {
    const value = Number(numbered[1] ?? numbered[2]);
    if (value < U32_LIMIT) return value;
    throw malformedLine(line, `type ${value} does not fit in 32 bits`);
  }
  throw malformedLine(line, `unknown memory type ${JSON.stringify(text.trim())}`);
}

/** True for lines that carry a firmware map entry (and must parse). */
export function isDmesgEntryLine(text: string): boolean {
  return text.includes("BIOS-e820:") && !GAP_FORM.test(text);
}

/**
 * The entries of every `BIOS-e820:` line in a boot log, in order, unnormalised. Other lines
 * (timestamps, DMI, notices, `e820: update` lines, `[gap]` lines) are skipped. A `BIOS-e820:`
 * line that does not parse raises EINVAL naming its line number and text.
 */
export function parseDmesgMemoryMap(text: string): MemoryMapEntry[] {
  const entries: MemoryMapEntry[] = [];
  for (const line of numberedLines(text)) {
    if (!isDmesgEntryLine(line.text)) continue;
    const mem = MEM_FORM.exec(line.text);
    if (mem !== null) {
      const base = parseHexField(mem[1]!, line, "base");
      const lastByte = parseHexField(mem[2]!, line, "end");
      const rawType = parseTypeName(mem[3]!.replace(SIZE_PREFIX, ""), line);
      const span = inclusiveSpan(base, lastByte, line);
      entries.push(e820Entry(span.base, span.length, rawType));
      continue;
    }
    const old = OLD_FORM.exec(line.text);
    if (old !== null) {
      const base = parseHexField(old[1]!, line, "base");
      const end = parseHexField(old[2]!, line, "end");
      const rawType = parseTypeName(old[3]!.replace(/^\((.*)\)$/, "$1"), line);
      const span = exclusiveSpan(base, end, line);
      entries.push(e820Entry(span.base, span.length, rawType));
      continue;
    }
    throw malformedLine(line, "not a BIOS-e820 map entry");
  }
  return entries;
}

/** The word Linux prints for an E820 type number (e820_print_type). */
export function dmesgTypeName(rawType: number): string {
  switch (rawType) {
    case E820Type.RAM:
      return "usable";
    case E820Type.RESERVED:
      return "reserved";
    case E820Type.SOFT_RESERVED:
      return "soft reserved";
    case E820Type.ACPI:
      return "ACPI data";
    case E820Type.NVS:
      return "ACPI NVS";
    case E820Type.UNUSABLE:
      return "unusable";
    case E820Type.PMEM:
    case E820Type.PRAM:
      return `persistent (type ${rawType})`;
    default:
      return `type ${rawType}`;
  }
}

/**
 * The map as Linux would print it, one `BIOS-e820: [mem ...]` line per entry in the given
 * order, ends inclusive. A zero-length entry has no inclusive end: EINVAL, as for an unknown
 * entry without a raw type number.
 */
export function formatDmesgMemoryMap(map: MemoryMap): string {
  return map
    .map((entry) => {
      const rawType = e820TypeNumber(entry);
      checkU64Number(entry.base, "entry base");
      checkU64Number(entry.length, "entry length");
      if (entry.length === 0) {
        throw new AllocatorError(
          "EINVAL",
          `zero-length entry at ${hex(entry.base)} has no inclusive end to print`,
          entry,
        );
      }
      const range = `${hex(entry.base, 16)}-${hex(entry.base + entry.length - 1, 16)}`;
      return `BIOS-e820: [mem ${range}] ${dmesgTypeName(rawType)}\n`;
    })
    .join("");
}
