import { AllocatorError, PHYS_ADDR_LIMIT, hex } from "@allockit/core";

/** Helpers shared by the text parsers (dmesg, sysfs): line splitting, hex fields, errors. */

/** One line of input with its 1-based number, for error messages. */
export interface NumberedLine {
  number: number;
  text: string;
}

export function numberedLines(text: string): NumberedLine[] {
  if (typeof text !== "string") {
    throw new AllocatorError("EINVAL", `memory map text ${String(text)} is not a string`, text);
  }
  return text.split(/\r?\n/).map((line, index) => ({ number: index + 1, text: line }));
}

/** EINVAL naming the line by number and quoting it. */
export function malformedLine(line: NumberedLine, reason: string): AllocatorError {
  return new AllocatorError(
    "EINVAL",
    `line ${line.number}: ${reason}: ${JSON.stringify(line.text.trim())}`,
    line.text,
  );
}

/** A hex field ("0x1f" or "1f"), exact: more than 13 significant digits cannot be held. */
export function parseHexField(digits: string, line: NumberedLine, what: string): number {
  const clean = digits.replace(/^0x/i, "");
  if (!/^[0-9a-f]+$/i.test(clean)) throw malformedLine(line, `${what} ${digits} is not hex`);
  const value = Number.parseInt(clean, 16);
  if (!Number.isSafeInteger(value)) {
    throw malformedLine(line, `${what} ${digits} is too large to hold exactly`);
  }
  return value;
}

/** A checked range: base and length in bytes. */
export interface Span {
  base: number;
  length: number;
}

/**
 * The span of a range whose end is inclusive (how Linux prints ranges). EINVAL when the end is
 * below the base or the range goes past the physical address limit 2^52.
 */
export function inclusiveSpan(base: number, lastByte: number, line: NumberedLine): Span {
  if (lastByte < base) {
    throw malformedLine(line, `end ${hex(lastByte)} is below base ${hex(base)}`);
  }
  return exclusiveSpan(base, lastByte + 1, line);
}

/** The span of base .. end with the end exclusive; the same checks. */
export function exclusiveSpan(base: number, end: number, line: NumberedLine): Span {
  if (end < base) throw malformedLine(line, `end ${hex(end)} is below base ${hex(base)}`);
  if (end > PHYS_ADDR_LIMIT) {
    throw malformedLine(line, `end ${hex(end)} is past the physical address limit 2^52`);
  }
  return { base, length: end - base };
}
