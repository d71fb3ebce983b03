import "reflect-metadata";
import { API_VERSION, TOKENS, definePlugin } from "@allockit/core";
import { instanceCachingFactory } from "tsyringe";
import { z } from "zod";
import { BuddyPmm } from "./buddy-pmm.js";
import { DEFAULT_MAX_ORDER, MAX_MAX_ORDER } from "./options.js";

/** The buddy PMM as a plugin: registers one BuddyPmm under TOKENS.Pmm. */
export default definePlugin({
  apiVersion: API_VERSION,
  name: "@allockit/pmm-buddy",
  kind: "pmm",
  description:
    "binary buddy page-frame allocator: per-zone free lists in RAM, coalescing, large pages",
  options: z
    .object({
      zoneLimits: z
        .object({
          DMA: z.number().int().positive().describe("end of ZONE_DMA in bytes"),
          DMA32: z.number().int().positive().describe("end of ZONE_DMA32 in bytes"),
        })
        .strict()
        .optional()
        .describe("zone limits; default 16 MiB and 4 GiB"),
      scrub: z
        .enum(["none", "on-free", "on-alloc"])
        .default("none")
        .describe("zero frames: none, on-free or on-alloc"),
      maxOrder: z
        .number()
        .int()
        .min(0)
        .max(MAX_MAX_ORDER)
        .default(DEFAULT_MAX_ORDER)
        .describe("largest block is 2^maxOrder frames (10 = 4 MiB, 18 = 1 GiB)"),
    })
    .strict(),
  register(container, options) {
    container.register(TOKENS.Pmm, {
      useFactory: instanceCachingFactory(() => new BuddyPmm(options)),
    });
  },
});
