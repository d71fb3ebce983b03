import { AllocatorError, describeValue } from "@allockit/core";

/** How a bucket picks the free pebble for a request. */
export type BucketFit = "first" | "best";

/** The fit policies, in the order options list them. */
export const BUCKET_FITS: readonly BucketFit[] = ["first", "best"];

/** Options of a {@link BucketHeap}. */
export interface BucketHeapOptions {
  /**
   * Pebble space of a new bucket in KiB (default 64, at least 64); headers come on top. A
   * request that does not fit gets a bucket of its own, sized to fit.
   */
  bucketKiB?: number;
  /**
   * "first" (default): the first free pebble of the bucket that fits. "best": the smallest
   * free pebble of the bucket that fits. Buckets are tried in list order either way.
   */
  fit?: BucketFit;
}

/** Options with their defaults filled in. */
export interface ResolvedBucketHeapOptions {
  readonly bucketKiB: number;
  readonly fit: BucketFit;
}

export const DEFAULT_BUCKET_KIB = 64;
export const MIN_BUCKET_KIB = 64;
/** 1 GiB of pebble space: bucket sizes are 32-bit fields. */
export const MAX_BUCKET_KIB = 1024 * 1024;

/** Fills defaults and checks the options; EINVAL names a bad value. */
export function resolveBucketHeapOptions(
  options: BucketHeapOptions = {},
): ResolvedBucketHeapOptions {
  const bucketKiB = options.bucketKiB ?? DEFAULT_BUCKET_KIB;
  if (
    !Number.isSafeInteger(bucketKiB) ||
    bucketKiB < MIN_BUCKET_KIB ||
    bucketKiB > MAX_BUCKET_KIB
  ) {
    throw new AllocatorError(
      "EINVAL",
      `bucketKiB ${describeValue(bucketKiB)} is not an integer from ${MIN_BUCKET_KIB} to ${MAX_BUCKET_KIB}`,
      bucketKiB,
    );
  }
  const fit = options.fit ?? "first";
  if (!BUCKET_FITS.includes(fit)) {
    throw new AllocatorError("EINVAL", `fit ${describeValue(fit)} is not "first" or "best"`, fit);
  }
  return { bucketKiB, fit };
}
