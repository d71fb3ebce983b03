import "reflect-metadata";
import { instanceCachingFactory } from "tsyringe";
import { z } from "zod";
import { ListHeap } from "../list-heap.js";
import { API_VERSION, definePlugin } from "../plugin.js";
import { TOKENS } from "../tokens.js";

/** ListHeap, the first-fit free-list reference heap, over the configured page source. */
export default definePlugin({
  apiVersion: API_VERSION,
  name: "@allockit/core/list-heap",
  kind: "heap",
  description: "first-fit free-list heap with coalescing (the K&R / xv6 kind)",
  options: z
    .object({
      arenaBytes: z
        .number()
        .int()
        .min(4096)
        .max(2 ** 31)
        .default(65536)
        .describe("preferred arena size"),
    })
    .strict(),
  register(container, options) {
    container.register(TOKENS.Heap, {
      useFactory: instanceCachingFactory(
        (c) => new ListHeap(c.resolve(TOKENS.PageSource), options),
      ),
    });
  },
});
