import "reflect-metadata";
import { API_VERSION, TOKENS, checkZoneLimits, definePlugin } from "@allockit/core";
import { instanceCachingFactory } from "tsyringe";
import { z } from "zod";
import { FRAMES_PER_LINK, SCRUB_MODES } from "./options.js";
import { StackPmm } from "./stack-pmm.js";

export { StackPmm, STACK_PMM_CAPABILITIES } from "./stack-pmm.js";
export { FRAMES_PER_LINK, SCRUB_MODES, resolveStackPmmOptions } from "./options.js";
export type {
  FramesPerLink,
  ResolvedStackPmmOptions,
  ScrubMode,
  StackPmmOptions,
} from "./options.js";
export {
  LINK_COUNT_OFFSET,
  LINK_ENTRIES_OFFSET,
  LINK_NEXT_OFFSET,
  entriesPerLinkPage,
} from "./batched-free-stacks.js";

/** The free-stack PMM under TOKENS.Pmm. */
export default definePlugin({
  apiVersion: API_VERSION,
  name: "@allockit/pmm-stack",
  kind: "pmm",
  description: "free stacks per zone, linked through the free frames, filled lazily",
  options: z
    .object({
      zoneLimits: z
        .object({
          DMA: z.number().int().positive().describe("end of the DMA zone, bytes"),
          DMA32: z.number().int().positive().describe("end of the DMA32 zone, bytes"),
        })
        .strict()
        .refine(
          (limits) => {
            try {
              checkZoneLimits(limits);
              return true;
            } catch {
              return false;
            }
          },
          { message: "zone limits must be page-aligned with 0 < DMA < DMA32" },
        )
        .optional(),
      scrub: z
        .enum(SCRUB_MODES)
        .default("none")
        .describe("zero frames never, when freed, or when handed out"),
      framesPerLink: z
        .enum(FRAMES_PER_LINK)
        .default("batched")
        .describe("batched link pages of ~1000 frame numbers, or one link per free frame"),
    })
    .strict(),
  register(container, options) {
    container.register(TOKENS.Pmm, {
      useFactory: instanceCachingFactory(() => new StackPmm(options)),
    });
  },
});
