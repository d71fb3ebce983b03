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
