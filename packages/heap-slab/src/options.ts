import { AllocatorError, describeValue } from "@allockit/core";

/** Options of a {@link SlabHeap}. */
export interface SlabHeapOptions {
  /**
   * Empty slabs each cache keeps for reuse (default 1); a slab emptied beyond that goes back to
   * the PageSource at once. With 0 every empty slab is released, so the heap returns every page
   * once nothing is live (`releasesMemory` is true only then).
   */
  keepEmptySlabs?: number;
  /** Objects of at least this many bytes get off-slab slab headers (default 512, 64 .. 4096). */
  offSlabThreshold?: number;
  /** Move successive slabs' first object through the colour offsets (default true). */
  colouring?: boolean;
}

/** Options with every default filled in. */
export interface ResolvedSlabHeapOptions {
  readonly keepEmptySlabs: number;
  readonly offSlabThreshold: number;
  readonly colouring: boolean;
}

export const DEFAULT_KEEP_EMPTY_SLABS = 1;
export const MAX_KEEP_EMPTY_SLABS = 1024;
export const DEFAULT_OFF_SLAB_THRESHOLD = 512;
/** Below 64 bytes an off-slab slab would hold more objects than its 64-bit bitmap covers. */
export const MIN_OFF_SLAB_THRESHOLD = 64;
export const MAX_OFF_SLAB_THRESHOLD = 4096;

function integerOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new AllocatorError(
      "EINVAL",
      `heap-slab option ${name} ${describeValue(value)} is not an integer in ${min} .. ${max}`,
      value,
    );
  }
  return value;
}

/** Fills in defaults; throws EINVAL naming a bad value. */
export function resolveSlabHeapOptions(options: SlabHeapOptions = {}): ResolvedSlabHeapOptions {
  const colouring = options.colouring ?? true;
  if (typeof colouring !== "boolean") {
    throw new AllocatorError(
      "EINVAL",
      `heap-slab option colouring ${describeValue(colouring)} is not a boolean`,
      colouring,
    );
  }
  return {
    keepEmptySlabs: integerOption(
      "keepEmptySlabs",
      options.keepEmptySlabs ?? DEFAULT_KEEP_EMPTY_SLABS,
      0,
      MAX_KEEP_EMPTY_SLABS,
    ),
    offSlabThreshold: integerOption(
      "offSlabThreshold",
      options.offSlabThreshold ?? DEFAULT_OFF_SLAB_THRESHOLD,
      MIN_OFF_SLAB_THRESHOLD,
      MAX_OFF_SLAB_THRESHOLD,
    ),
    colouring,
  };
}
