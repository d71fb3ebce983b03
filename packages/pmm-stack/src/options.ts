import {
  AllocatorError,
  DEFAULT_ZONE_LIMITS,
  checkZoneLimits,
  describeValue,
  type ZoneLimits,
} from "@allockit/core";

/** When frames are zeroed: never, when freed, or when handed out. */
export const SCRUB_MODES = ["none", "on-free", "on-alloc"] as const;
export type ScrubMode = (typeof SCRUB_MODES)[number];

/**
 * How free frames are linked: "batched" uses free frames as link pages of up to 1020 frame
 * numbers each; "one" is the classic stack where every free frame links to the next.
 */
export const FRAMES_PER_LINK = ["batched", "one"] as const;
export type FramesPerLink = (typeof FRAMES_PER_LINK)[number];

export interface StackPmmOptions {
  /** Upper ends of the DMA and DMA32 zones in bytes; default 16 MiB and 4 GiB. */
  zoneLimits?: ZoneLimits;
  /**
   * "none" (default); "on-free": a frame is zeroed when freed, so every frame handed out reads
   * zero (the stack's own words are cleared before hand-out); "on-alloc": zeroed when handed out.
   */
  scrub?: ScrubMode;
  /** Link layout, default "batched" (see the README for why). */
  framesPerLink?: FramesPerLink;
}

export type ResolvedStackPmmOptions = Required<StackPmmOptions>;

/** Options with their defaults filled in; EINVAL naming any bad value. */
export function resolveStackPmmOptions(options: StackPmmOptions): ResolvedStackPmmOptions {
  if (typeof options !== "object" || options === null) {
    throw new AllocatorError(
      "EINVAL",
      `options ${describeValue(options)} is not an object`,
      options,
    );
  }
  const scrub = options.scrub ?? "none";
  if (!(SCRUB_MODES as readonly unknown[]).includes(scrub)) {
    throw new AllocatorError(
      "EINVAL",
      `scrub ${describeValue(scrub)} is not one of ${SCRUB_MODES.join(", ")}`,
      scrub,
    );
  }
  const framesPerLink = options.framesPerLink ?? "batched";
  if (!(FRAMES_PER_LINK as readonly unknown[]).includes(framesPerLink)) {
    throw new AllocatorError(
      "EINVAL",
      `framesPerLink ${describeValue(framesPerLink)} is not one of ${FRAMES_PER_LINK.join(", ")}`,
      framesPerLink,
    );
  }
  const limits = options.zoneLimits ?? DEFAULT_ZONE_LIMITS;
  if (typeof limits !== "object" || limits === null) {
    throw new AllocatorError(
      "EINVAL",
      `zoneLimits ${describeValue(limits)} is not an object`,
      limits,
    );
  }
  const zoneLimits = checkZoneLimits({ DMA: limits.DMA, DMA32: limits.DMA32 });
  return { zoneLimits, scrub, framesPerLink };
}
