import "reflect-metadata";
import { API_VERSION, TOKENS, definePlugin } from "@allockit/core";
import { instanceCachingFactory } from "tsyringe";
import { z } from "zod";
import { BucketHeap } from "./bucket-heap.js";
import { DEFAULT_BUCKET_KIB, MAX_BUCKET_KIB, MIN_BUCKET_KIB } from "./options.js";

/** The bucket heap as a plugin: registers one BucketHeap under TOKENS.Heap over TOKENS.PageSource. */
export default definePlugin({
  apiVersion: API_VERSION,
  name: "@allockit/heap-bucket",
  kind: "heap",
  description:
    "FYSOS bucket allocator: buckets of pebbles with flags (physical, below 1 MiB / 16 MiB / 4 GiB, clear, persistent) and debug names",
  options: z
    .object({
      bucketKiB: z
        .number()
        .int()
        .min(MIN_BUCKET_KIB)
        .max(MAX_BUCKET_KIB)
        .default(DEFAULT_BUCKET_KIB)
        .describe("pebble space of a new bucket in KiB (headers come on top)"),
      fit: z
        .enum(["first", "best"])
        .default("first")
        .describe("first fit, or best fit (the smallest free pebble of a bucket that fits)"),
    })
    .strict(),
  register(container, options) {
    container.register(TOKENS.Heap, {
      useFactory: instanceCachingFactory(
        (c) => new BucketHeap(c.resolve(TOKENS.PageSource), options),
      ),
    });
  },
});
