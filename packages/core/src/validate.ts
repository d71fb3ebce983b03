import { isPowerOfTwo } from "./address.js";
import { AllocatorError, describeValue } from "./errors.js";

/**
 * Argument checks shared by every heap, thrown where the bad value enters (before any state
 * is touched). Cheap enough for heap_alloc's hot path: no allocation unless they throw.
 */

/** Throws EINVAL unless `size` is a non-negative safe integer. */
export function checkSize(size: number, what = "size"): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new AllocatorError(
      "EINVAL",
      `${what} ${describeValue(size)} is not a non-negative safe integer`,
      size,
    );
  }
}

/**
 * Returns the alignment to use: `defaultAlign` for 0, 1 or undefined, else `align` itself, which
 * must be a power of two no larger than `maxAlign` (EINVAL otherwise). Alignments below the
 * default are raised to it.
 */
export function effectiveAlign(
  align: number | undefined,
  defaultAlign: number,
  maxAlign: number,
): number {
  if (align === undefined || align === 0 || align === 1) return defaultAlign;
  if (!isPowerOfTwo(align)) {
    throw new AllocatorError(
      "EINVAL",
      `alignment ${describeValue(align)} is not a power of two`,
      align,
    );
  }
  if (align > maxAlign) {
    throw new AllocatorError(
      "EINVAL",
      `alignment ${describeValue(align)} is larger than this heap's maximum ${describeValue(maxAlign)}`,
      align,
    );
  }
  return align < defaultAlign ? defaultAlign : align;
}

/** Throws EINVAL unless `ptr` is a non-negative safe integer (it may still be foreign). */
export function checkPointer(ptr: number): void {
  if (!Number.isSafeInteger(ptr) || ptr < 0) {
    throw new AllocatorError("EINVAL", `pointer ${describeValue(ptr)} is not an address`, ptr);
  }
}

/** Throws EINVAL unless `count` is a positive safe integer. */
export function checkCount(count: number, what = "count"): void {
  if (!Number.isSafeInteger(count) || count <= 0) {
    throw new AllocatorError(
      "EINVAL",
      `${what} ${describeValue(count)} is not a positive integer`,
      count,
    );
  }
}

/**
 * Throws EINVAL unless `label` is a string of at most `maxBytes` printable ASCII characters
 * (0x20 .. 0x7e): the caller's names for blocks (pebble names, guard tags) that heaps keep in
 * fixed fields of their records. `call` and `what` name the call and the argument in messages.
 */
export function checkLabel(
  label: unknown,
  maxBytes: number,
  call: string,
  what = "name",
): asserts label is string {
  if (typeof label !== "string") {
    throw new AllocatorError(
      "EINVAL",
      `${call}: ${what} ${describeValue(label)} is not a string`,
      label,
    );
  }
  if (label.length > maxBytes) {
    throw new AllocatorError(
      "EINVAL",
      `${call}: ${what} ${describeValue(label)} is ${label.length} bytes long, more than ${maxBytes}`,
      label,
    );
  }
  for (let i = 0; i < label.length; i++) {
    const code = label.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) {
      throw new AllocatorError(
        "EINVAL",
        `${call}: ${what} ${describeValue(label)} has a character (code ${code}) outside printable ASCII`,
        label,
      );
    }
  }
}

/** Throws EINVAL unless `limit` is a page count or Infinity; returns it (Infinity when absent). */
export function checkPageLimit(limit: number | undefined): number {
  const value = limit ?? Infinity;
  if (!(value === Infinity || (Number.isSafeInteger(value) && value >= 0))) {
    throw new AllocatorError(
      "EINVAL",
      `pageLimit ${describeValue(value)} is not a page count`,
      value,
    );
  }
  return value;
}
