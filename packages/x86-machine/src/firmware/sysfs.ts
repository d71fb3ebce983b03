import { AllocatorError, hex, type MemoryMap, type MemoryMapEntry } from "@allockit/core";
import { checkU64Number } from "./binary.js";
import { E820Type, e820Entry } from "./e820.js";
import {
  inclusiveSpan,
  malformedLine,
  numberedLines,
  parseHexField,
  type NumberedLine,
} from "./lines.js";

/**
 * The firmware map as Linux exposes it in /sys/firmware/memmap/N/{start,end,type}, joined one
 * entry per line:
 *
 *   0x100000 0xbfffffff System RAM
 *
 * Ends are inclusive. The type strings are Linux's e820_type_to_string().
 */

/** Linux's sysfs type strings and their E820 numbers. */
const TYPE_BY_NAME: ReadonlyMap<string, number> = new Map([
  ["System RAM", E820Type.RAM],
  ["Reserved", E820Type.RESERVED],
  ["ACPI Tables", E820Type.ACPI],
  ["ACPI Non-volatile Storage", E820Type.NVS],
  ["Unusable memory", E820Type.UNUSABLE],
  ["Persistent Memory", E820Type.PMEM],
  ["Persistent Memory (legacy)", E820Type.PRAM],
  ["Soft Reserved", E820Type.SOFT_RESERVED],
]);

const NAME_BY_TYPE: ReadonlyMap<number, string> = new Map(
  [...TYPE_BY_NAME].map(([name, type]) => [type, name]),
);

/** What Linux prints for any other number: the number itself is lost. */
const UNKNOWN_NAME = "Unknown E820 type";

const ENTRY_LINE = /^\s*0x/i;
const ENTRY_FORM = /^\s*(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*?)\s*$/i;

/** True for lines that carry a map entry (and must parse): they start with a hex address. */
export function isSysfsEntryLine(text: string): boolean {
  return ENTRY_LINE.test(text);
}

/**
 * The entries of a /sys/firmware/memmap listing, in order, unnormalised. Lines that do not
 * start with a hex address are skipped; one that does but does not parse raises EINVAL naming
 * its line number and text. "Unknown E820 type" becomes an unknown entry without `raw`
 * (Linux does not print the number).
 */
export function parseSysfsMemoryMap(text: string): MemoryMapEntry[] {
  const entries: MemoryMapEntry[] = [];
  for (const line of numberedLines(text)) {
    if (!isSysfsEntryLine(line.text)) continue;
    const match = ENTRY_FORM.exec(line.text);
    if (match === null) throw malformedLine(line, "not a start end type line");
    const base = parseHexField(match[1]!, line, "start");
    const lastByte = parseHexField(match[2]!, line, "end");
    const name = match[3]!.replace(/\s+/g, " ");
    const span = inclusiveSpan(base, lastByte, line);
    if (name === UNKNOWN_NAME) {
      entries.push({ base: span.base, length: span.length, type: "unknown" });
    } else {
      entries.push(e820Entry(span.base, span.length, parseTypeName(name, line)));
    }
  }
  return entries;
}

function parseTypeName(name: string, line: NumberedLine): number {
  const known = TYPE_BY_NAME.get(name);
  if (known !== undefined) return known;
  throw malformedLine(line, `unknown memory type ${JSON.stringify(name)}`);
}

/** The string Linux puts in /sys/firmware/memmap/N/type for an entry. */
export function sysfsTypeName(entry: MemoryMapEntry): string {
  switch (entry.type) {
    case "usable":
      return "System RAM";
    case "reserved":
      return "Reserved";
    case "acpi-reclaimable":
      return "ACPI Tables";
    case "acpi-nvs":
      return "ACPI Non-volatile Storage";
    case "bad":
      return "Unusable memory";
    default:
      return (entry.raw !== undefined && NAME_BY_TYPE.get(entry.raw)) || UNKNOWN_NAME;
  }
}

/**
 * The map as a joined /sys/firmware/memmap listing, one line per entry in the given order,
 * ends inclusive. Unknown numbers Linux has no name for print as "Unknown E820 type", as Linux
 * does. EINVAL for a zero-length entry (no inclusive end).
 */
export function formatSysfsMemoryMap(map: MemoryMap): string {
  return map
    .map((entry) => {
      checkU64Number(entry.base, "entry base");
      checkU64Number(entry.length, "entry length");
      if (entry.length === 0) {
        throw new AllocatorError(
          "EINVAL",
          `zero-length entry at ${hex(entry.base)} has no inclusive end to print`,
          entry,
        );
      }
      return `${hex(entry.base)} ${hex(entry.base + entry.length - 1)} ${sysfsTypeName(entry)}\n`;
    })
    .join("");
}
