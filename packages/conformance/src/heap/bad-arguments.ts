import type { Heap } from "@allockit/core";

/** A malformed heap_alloc call every heap must refuse with EINVAL. */
export interface BadArgument {
  /** The call as text, for messages ("heap_alloc(-1, 0)"). */
  readonly call: string;
  /** The bad value; the error message must contain its decimal text. */
  readonly value: number;
  readonly invoke: (heap: Heap) => unknown;
}

/**
 * Negative, NaN, fractional, unsafe and infinite sizes; alignments that are not powers of two,
 * negative, fractional, NaN, or above the heap's `maxAlign`.
 */
export function badAllocArguments(maxAlign: number): BadArgument[] {
  const rows: BadArgument[] = [];
  for (const size of [-1, Number.NaN, 1.5, 2 ** 53, Number.POSITIVE_INFINITY, -4096]) {
    rows.push({
      call: `heap_alloc(${String(size)}, 0)`,
      value: size,
      invoke: (heap) => heap.heap_alloc(size, 0),
    });
  }
  const aligns = [3, -8, 2 ** 40, 6, 0.5, Number.NaN];
  // Twice the heap's maximum is a power of two it must still refuse.
  if (Number.isSafeInteger(maxAlign * 2) && !aligns.includes(maxAlign * 2))
    aligns.push(maxAlign * 2);
  for (const align of aligns) {
    if (align === 2 ** 40 && maxAlign >= align) continue;
    rows.push({
      call: `heap_alloc(16, ${String(align)})`,
      value: align,
      invoke: (heap) => heap.heap_alloc(16, align),
    });
  }
  return rows;
}
