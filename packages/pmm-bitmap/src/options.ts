import {
  AllocatorError,
  DEFAULT_ZONE_LIMITS,
  checkZoneLimits,
  describeValue,
  type ZoneLimits,
} from "@allockit/core";
import { z } from "zod";

/** When frames are zeroed: never, as they are freed, or as they are handed out. */
export type ScrubPolicy = "none" | "on-free" | "on-alloc";

/** Where a single-frame search starts: after the last frame handed out, or at the bottom. */
export type FitPolicy = "next" | "first";

export interface BitmapPmmOptions {
  /** Upper ends of the DMA and DMA32 zones in bytes; default 16 MiB and 4 GiB. */
  zoneLimits?: ZoneLimits;
  /** Zero frames when freed or when handed out; default "none". */
  scrub?: ScrubPolicy;
  /**
   * Single-frame search: "next" (default) resumes after the last frame handed out in each
   * region, spreading wear and skipping the full prefix; "first" always starts at the bottom,
   * keeping allocations packed low.
   */
  fit?: FitPolicy;
}

/** The options with defaults filled in and zone limits checked. */
export interface ResolvedBitmapPmmOptions {
  zoneLimits: ZoneLimits;
  scrub: ScrubPolicy;
  fit: FitPolicy;
}

const zoneLimitsSchema = z
  .object({
    DMA: z.number().int().positive().describe("end of the DMA zone in bytes"),
    DMA32: z.number().int().positive().describe("end of the DMA32 zone in bytes"),
  })
  .strict();

/** zod schema of the plugin options, as the config gives them. */
export const bitmapPmmOptionsSchema = z
  .object({
    zoneLimits: zoneLimitsSchema.optional().describe("zone limits (default 16 MiB and 4 GiB)"),
    scrub: z
      .enum(["none", "on-free", "on-alloc"])
      .default("none")
      .describe("zero frames when freed or when handed out"),
    fit: z
      .enum(["next", "first"])
      .default("next")
      .describe("single-frame search: next-fit (resume after the last) or first-fit"),
  })
  .strict();

/** Fills defaults and checks values; EINVAL naming the bad one. */
export function resolveOptions(options: BitmapPmmOptions): ResolvedBitmapPmmOptions {
  const parsed = bitmapPmmOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? "" : ` (${issue.path.join(".")}: ${issue.message})`;
    throw new AllocatorError(
      "EINVAL",
      `pmm-bitmap options ${describeValue(options)}${where}`,
      options,
    );
  }
  const zoneLimits = checkZoneLimits(parsed.data.zoneLimits ?? { ...DEFAULT_ZONE_LIMITS });
  return { zoneLimits, scrub: parsed.data.scrub, fit: parsed.data.fit };
}
