import { PAGE_SIZE, hex } from "@allockit/core";
import type { FrameConstraints } from "@allockit/core";

/** How calls and their arguments are written in reports. */

/** Formats a call argument: addresses in hex, anything odd as itself. */
export function formatArgument(value: unknown): string {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return hex(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object" && value !== null) return describeConstraints(value);
  return String(value);
}

export function describeConstraints(constraints: object): string {
  const parts = Object.entries(constraints).map(([key, value]) => {
    const shown =
      typeof value === "number" && Number.isSafeInteger(value) && value >= PAGE_SIZE
        ? hex(value)
        : typeof value === "string"
          ? JSON.stringify(value)
          : String(value);
    return `${key}: ${shown}`;
  });
  return parts.length === 0 ? "{}" : `{ ${parts.join(", ")} }`;
}

export function describeAllocCall(
  count: number,
  constraints: FrameConstraints | undefined,
): string {
  return constraints === undefined
    ? `allocFrames(${count})`
    : `allocFrames(${count}, ${describeConstraints(constraints)})`;
}
