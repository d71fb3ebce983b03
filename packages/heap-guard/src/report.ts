import { PAGE_SIZE, formatCanonical, hex, isUpperHalf } from "@allockit/core";
import type { GuardObjectInfo, GuardSide, GuardViolationKind } from "./violation.js";

/**
 * Report text, in the manner of a KFENCE report: a rule, the headline, where the bad access
 * or free happened relative to the object, the object's description, and a closing rule.
 */

const RULE = "=".repeat(66);

/** An address as a kernel developer reads it (canonical form in long mode). */
export function formatAddress(address: number): string {
  return formatCanonical(address);
}

/** Side and offset of `address` relative to an object (see GuardViolation.offset). */
export function relation(address: number, object: GuardObjectInfo): [GuardSide, number] {
  const start = object.address;
  const end = start + object.size;
  if (address < start) return ["before", address - start];
  if (address >= end) return ["after", address - end];
  return ["within", address - start];
}

/** "guarded-#17", the name reports give an object (its allocation sequence number). */
export function objectName(object: GuardObjectInfo): string {
  return `guarded-#${object.sequence}`;
}

function taggedName(object: GuardObjectInfo): string {
  return object.tag === "" ? objectName(object) : `${objectName(object)} "${object.tag}"`;
}

/** "1B left of guarded-#17", "4B right of ...", "8B into ...", "at the start of ...". */
export function whereText(side: GuardSide, offset: number, name: string): string {
  if (side === "before") return `${-offset}B left of ${name}`;
  if (side === "after") return `${offset + 1}B right of ${name}`;
  return offset === 0 ? `at the start of ${name}` : `${offset}B into ${name}`;
}

function headline(kind: GuardViolationKind, access: string, name: string): string {
  switch (kind) {
    case "overflow":
    case "underflow":
      return `out-of-bounds ${access} in ${name}`;
    case "use-after-free-read":
    case "use-after-free-write":
      return `use-after-free ${access} in ${name}`;
    case "double-free":
      return `double free of ${name}`;
    case "invalid-free":
      return name === "" ? "invalid free" : `invalid free near ${name}`;
    case "slack-corrupted":
      return `memory corruption in ${name}`;
    case "canary-corrupted":
      return `canary corruption in ${name}`;
  }
}

function firstLine(
  kind: GuardViolationKind,
  access: string,
  at: string,
  where: string,
  object: GuardObjectInfo | undefined,
  bytes: string,
): string {
  switch (kind) {
    case "overflow":
    case "underflow":
      return `Out-of-bounds ${access} at ${at} (${where})`;
    case "use-after-free-read":
    case "use-after-free-write":
      return `Use-after-free ${access} at ${at} (${where})`;
    case "double-free":
      return `Double free of ${at} (${where}, freed already as free #${object?.freedAs ?? 0})`;
    case "invalid-free":
      return `Invalid free of ${at} (${where})`;
    case "slack-corrupted":
      return `Corrupted slack at ${at} ${bytes} (${where})`;
    case "canary-corrupted":
      return `Corrupted canary at ${at} ${bytes} (${where})`;
  }
}

function objectLines(object: GuardObjectInfo): string[] {
  const end = object.address + object.size - 1;
  const runEnd = object.run + object.pages * PAGE_SIZE - 1;
  const canary = object.canary
    ? `canary word ${object.mode === "right" ? "before" : "after"} the object`
    : "no canary (no room in the slack)";
  return [
    `${taggedName(object)}: ${formatAddress(object.address)}-${formatAddress(end)}, size=${object.size}, align=${object.align}, mode=${object.mode}`,
    `  page run ${formatAddress(object.run)}-${formatAddress(runEnd)} (${object.pages} page${object.pages === 1 ? "" : "s"}), ${canary}`,
    `  allocated as #${object.sequence}; ${object.freedAs === 0 ? "still live" : `freed as free #${object.freedAs}`}`,
  ];
}

/** The multi-line report of a violation. The second line is the headline. */
export function formatReport(
  kind: GuardViolationKind,
  address: number,
  object: GuardObjectInfo | undefined,
  side: GuardSide,
  offset: number,
  details: { access?: "read" | "write"; bytes?: string; heap?: string },
): string {
  const heap = details.heap ?? "heap-guard";
  const access = details.access ?? "access";
  const name = object === undefined ? "" : taggedName(object);
  const where =
    object === undefined
      ? "not in any guarded object"
      : whereText(side, offset, objectName(object));
  const at = formatAddress(address);
  const lines = [
    RULE,
    `BUG: ${heap}: ${headline(kind, access, name)}`,
    "",
    `${firstLine(kind, access, at, where, object, details.bytes ?? "")}:`,
  ];
  if (object !== undefined) lines.push("", ...objectLines(object));
  lines.push(RULE);
  return lines.join("\n");
}

/** The one-line form of a report, for an error message: the first detail line. */
export function summaryLine(report: string, address: number): string {
  const line = report.split("\n")[3]!.replace(/:$/, "");
  // A packed upper-half address prints differently in canonical form: name both.
  return isUpperHalf(address) ? `${line} [packed ${hex(address)}]` : line;
}

/** "[ 0x41 . . ! ]": bytes found against bytes expected, as KFENCE shows corrupted memory. */
export function formatBytes(found: Uint8Array, expected: (index: number) => number): string {
  const parts: string[] = [];
  for (let i = 0; i < found.length; i++)
    parts.push(found[i] === expected(i) ? "." : hex(found[i]!, 2));
  return `[ ${parts.join(" ")} ]`;
}
