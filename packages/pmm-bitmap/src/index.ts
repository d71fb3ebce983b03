import "reflect-metadata";
import { API_VERSION, TOKENS, definePlugin } from "@allockit/core";
import { instanceCachingFactory } from "tsyringe";
import { BitmapPmm } from "./bitmap-pmm.js";
import { bitmapPmmOptionsSchema } from "./options.js";

export { BitmapPmm } from "./bitmap-pmm.js";
export { bitmapPmmOptionsSchema } from "./options.js";
/** The byte layout of the metadata block, for tools that read it out of simulated RAM. */
export * as metadataLayout from "./layout.js";
export type {
  BitmapPmmOptions,
  FitPolicy,
  ResolvedBitmapPmmOptions,
  ScrubPolicy,
} from "./options.js";

/** BitmapPmm, the per-region hierarchical-bitmap page-frame allocator. */
export default definePlugin({
  apiVersion: API_VERSION,
  name: "@allockit/pmm-bitmap",
  kind: "pmm",
  description:
    "bitmap page-frame allocator: one hierarchical bitmap per RAM region, next-fit, DMA constraints",
  options: bitmapPmmOptionsSchema,
  register(container, options) {
    container.register(TOKENS.Pmm, {
      useFactory: instanceCachingFactory(() => new BitmapPmm(options)),
    });
  },
});
