import { AllocatorError, describeValue, isPowerOfTwo } from "@allockit/core";
import { MAX_CACHE_ALIGN, MAX_OBJECT_SIZE, MIN_ALIGN } from "./layout.js";
import type { ObjectCallback } from "./slab-cache.js";

/** Options of {@link SlabHeap.createCache}. */
export interface SlabCacheOptions {
  /** Object alignment, a power of two up to 4096 (default and minimum 8). */
  align?: number;
  /** Runs over every object when a slab is made. */
  ctor?: ObjectCallback;
  /** Runs over every object when a slab is released. */
  dtor?: ObjectCallback;
}

const CACHE_NAME = /^[\x21-\x7e]{1,32}$/;

/**
 * Checks createCache's arguments, throwing EINVAL naming the bad one; returns the object
 * alignment to use (at least 8).
 */
export function checkCacheArguments(
  name: string,
  objectSize: number,
  options: SlabCacheOptions,
  nameTaken: (name: string) => boolean,
): number {
  if (typeof name !== "string" || !CACHE_NAME.test(name)) {
    throw new AllocatorError(
      "EINVAL",
      `createCache: name ${describeValue(name)} is not 1-32 printable characters without spaces`,
      name,
    );
  }
  if (nameTaken(name))
    throw new AllocatorError("EINVAL", `createCache: a cache named "${name}" exists`, name);
  if (!Number.isSafeInteger(objectSize) || objectSize < 1 || objectSize > MAX_OBJECT_SIZE) {
    throw new AllocatorError(
      "EINVAL",
      `createCache: object size ${describeValue(objectSize)} is not an integer in 1 .. ${MAX_OBJECT_SIZE}`,
      objectSize,
    );
  }
  const align = options.align ?? MIN_ALIGN;
  if (!isPowerOfTwo(align) || align > MAX_CACHE_ALIGN) {
    throw new AllocatorError(
      "EINVAL",
      `createCache: alignment ${describeValue(align)} is not a power of two up to ${MAX_CACHE_ALIGN}`,
      align,
    );
  }
  for (const [what, fn] of [
    ["ctor", options.ctor],
    ["dtor", options.dtor],
  ] as const) {
    if (fn !== undefined && typeof fn !== "function") {
      throw new AllocatorError(
        "EINVAL",
        `createCache: ${what} ${describeValue(fn)} is not a function`,
        fn,
      );
    }
  }
  return Math.max(align, MIN_ALIGN);
}
