import {
  AllocatorError,
  DEFAULT_ZONE_LIMITS,
  checkZoneLimits,
  describeValue,
  type ZoneLimits,
} from "@allockit/core";

/** What happens to frame contents as they change hands. */
export type ScrubPolicy = "none" | "on-free" | "on-alloc";
export const SCRUB_POLICIES: readonly ScrubPolicy[] = ["none", "on-free", "on-alloc"];

/** Largest block order by default: 2^10 frames = 4 MiB, as Linux's MAX_ORDER has long been. */
export const DEFAULT_MAX_ORDER = 10;
/** Largest order accepted: 2^18 frames = 1 GiB, so 1 GiB pages come straight off a list. */
export const MAX_MAX_ORDER = 18;

export interface BuddyPmmOptions {
  /** Upper ends of DMA and DMA32 in bytes; default 16 MiB and 4 GiB. */
  zoneLimits?: ZoneLimits;
  /**
   * "none" (default) leaves frames as they were; "on-free" zeroes frames when they are freed
   * (and the free-list links when a block leaves its list), so freed data never lingers and
   * allocations come back zeroed; "on-alloc" zeroes a run when it is handed out.
   */
  scrub?: ScrubPolicy;
  /** Largest block is 2^maxOrder frames (0 .. 18, default 10 = 4 MiB). */
  maxOrder?: number;
}

export interface ResolvedBuddyPmmOptions {
  zoneLimits: ZoneLimits;
  scrub: ScrubPolicy;
  maxOrder: number;
}

/** Fills in defaults; EINVAL naming the value for anything malformed. */
export function resolveBuddyPmmOptions(options: BuddyPmmOptions = {}): ResolvedBuddyPmmOptions {
  if (typeof options !== "object" || options === null) {
    throw new AllocatorError(
      "EINVAL",
      `options ${describeValue(options)} is not an object`,
      options,
    );
  }
  const maxOrder = options.maxOrder ?? DEFAULT_MAX_ORDER;
  if (!Number.isInteger(maxOrder) || maxOrder < 0 || maxOrder > MAX_MAX_ORDER) {
    throw new AllocatorError(
      "EINVAL",
      `maxOrder ${describeValue(maxOrder)} is not an integer from 0 to ${MAX_MAX_ORDER}`,
      maxOrder,
    );
  }
  const scrub = options.scrub ?? "none";
  if (!SCRUB_POLICIES.includes(scrub)) {
    throw new AllocatorError(
      "EINVAL",
      `scrub ${describeValue(scrub)} is not one of ${SCRUB_POLICIES.join(", ")}`,
      scrub,
    );
  }
  const zoneLimits = checkZoneLimits({ ...(options.zoneLimits ?? DEFAULT_ZONE_LIMITS) });
  return { zoneLimits, scrub, maxOrder };
}
