import "reflect-metadata";
import { API_VERSION, TOKENS, definePlugin } from "@allockit/core";
import { instanceCachingFactory } from "tsyringe";
import { z } from "zod";
import {
  DEFAULT_KEEP_EMPTY_SLABS,
  DEFAULT_OFF_SLAB_THRESHOLD,
  MAX_KEEP_EMPTY_SLABS,
  MAX_OFF_SLAB_THRESHOLD,
  MIN_OFF_SLAB_THRESHOLD,
} from "./options.js";
import { SlabHeap } from "./slab-heap.js";

/** The slab heap as a plugin: registers one SlabHeap under TOKENS.Heap, over TOKENS.PageSource. */
export default definePlugin({
  apiVersion: API_VERSION,
  name: "@allockit/heap-slab",
  kind: "heap",
  description:
    "Bonwick's slab allocator: object caches with constructed state, colouring, kmalloc size classes",
  options: z
    .object({
      keepEmptySlabs: z
        .number()
        .int()
        .min(0)
        .max(MAX_KEEP_EMPTY_SLABS)
        .default(DEFAULT_KEEP_EMPTY_SLABS)
        .describe("empty slabs each cache keeps; 0 releases every empty slab at once"),
      offSlabThreshold: z
        .number()
        .int()
        .min(MIN_OFF_SLAB_THRESHOLD)
        .max(MAX_OFF_SLAB_THRESHOLD)
        .default(DEFAULT_OFF_SLAB_THRESHOLD)
        .describe("objects of at least this many bytes get off-slab slab headers"),
      colouring: z
        .boolean()
        .default(true)
        .describe("move successive slabs' first object through the colour offsets"),
    })
    .strict(),
  register(container, options) {
    container.register(TOKENS.Heap, {
      useFactory: instanceCachingFactory(
        (c) => new SlabHeap(c.resolve(TOKENS.PageSource), options),
      ),
    });
  },
});
