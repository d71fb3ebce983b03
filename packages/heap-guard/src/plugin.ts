import "reflect-metadata";
import {
  API_VERSION,
  AllocatorError,
  FailingPageSource,
  TOKENS,
  definePlugin,
  resolveToken,
} from "@allockit/core";
import type { Heap, PageSource, WrappedPluginSection } from "@allockit/core";
import { instanceCachingFactory } from "tsyringe";
import type { DependencyContainer } from "tsyringe";
import { z } from "zod";
import { GuardHeap } from "./guard-heap.js";
import { GuardPageSource } from "./guard-page-source.js";
import { DEFAULT_POOL_SLOTS, DEFAULT_QUARANTINE_PAGES } from "./layout.js";
import { DEFAULT_SAMPLE_EVERY, SamplingHeap } from "./sampling-heap.js";

const optionsSchema = z
  .object({
    mode: z
      .enum(["right", "left"])
      .default("right")
      .describe("objects against the guard page after them (overflow) or before (underflow)"),
    quarantinePages: z
      .number()
      .int()
      .min(0)
      .max(2 ** 20)
      .default(DEFAULT_QUARANTINE_PAGES)
      .describe("pages of freed objects kept unmapped (and their records kept) before reuse"),
    poolSlots: z
      .number()
      .int()
      .min(0)
      .max(2 ** 20)
      .default(DEFAULT_POOL_SLOTS)
      .describe(
        "one-page objects in the KFENCE-style pool of slots between guard pages, over a VMM (0: every object maps a reservation of its own)",
      ),
    pageLimit: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("most pages in use at once (out-of-memory tests)"),
    sample: z
      .object({
        every: z
          .number()
          .int()
          .min(1)
          .default(DEFAULT_SAMPLE_EVERY)
          .describe("one allocation in this many is guarded"),
        seed: z.number().int().optional().describe("sample at random from this seed"),
        heap: z
          .object({
            plugin: z.string().min(1).describe("the heap plugin the rest goes to"),
            options: z.record(z.string(), z.unknown()).optional(),
          })
          .strict(),
      })
      .strict()
      .optional()
      .describe("sampling mode: wrap another heap and guard one allocation in `every`"),
  })
  .strict();

/** The plugin's options, after defaults. */
type GuardPluginOptions = z.output<typeof optionsSchema>;

/** The guard heap a container's system calls for: over guard pages when there is a VMM. */
function createGuardHeap(c: DependencyContainer, options: GuardPluginOptions): GuardHeap {
  const limit = options.pageLimit === undefined ? {} : { pageLimit: options.pageLimit };
  let source: PageSource;
  if (c.isRegistered(TOKENS.Vmm, true)) {
    const vmm = resolveToken(c, TOKENS.Vmm);
    source = new GuardPageSource(vmm.kernelSpace, vmm.memory, {
      ...limit,
      quarantinePages: options.quarantinePages,
      poolSlots: options.poolSlots,
      name: "heap-guard",
    });
  } else {
    // Flat memory: no page tables, so no guard pages; slack, canary and frees are still checked.
    const flat = resolveToken(c, TOKENS.PageSource);
    source = options.pageLimit === undefined ? flat : new FailingPageSource(flat, limit);
  }
  return new GuardHeap(source, { mode: options.mode, quarantinePages: options.quarantinePages });
}

function createHeap(c: DependencyContainer, options: GuardPluginOptions): Heap {
  const guard = createGuardHeap(c, options);
  const sample = options.sample;
  if (sample === undefined) return guard;
  if (!c.isRegistered(TOKENS.WrappedHeap, true)) {
    throw new AllocatorError(
      "ECONFIG",
      `@allockit/heap-guard: sample.heap ${JSON.stringify(sample.heap.plugin)} was not composed: no heap is registered as TOKENS.WrappedHeap (compose() registers the heap the manifest's wraps() names)`,
      sample.heap.plugin,
    );
  }
  return new SamplingHeap(resolveToken(c, TOKENS.WrappedHeap), guard, {
    every: sample.every,
    ...(sample.seed === undefined ? {} : { seed: sample.seed }),
  });
}

/**
 * The guard heap as a plugin. Over a VMM (TOKENS.Vmm registered) it builds a GuardPageSource
 * over the kernel address space; over flat memory it uses TOKENS.PageSource, without guard
 * pages. With `sample`, `wraps` names the heap plugin for compose to load underneath, and the
 * heap registered is a SamplingHeap over that heap (TOKENS.WrappedHeap) and the guard heap.
 */
export default definePlugin({
  apiVersion: API_VERSION,
  name: "@allockit/heap-guard",
  kind: "heap",
  description:
    "guard-page debug heap: objects against unmapped guard pages, slack signatures and canaries, quarantined frees, KFENCE-style reports; optional 1-in-N sampling over another heap",
  options: optionsSchema,
  register(container, options) {
    container.register(TOKENS.Heap, {
      useFactory: instanceCachingFactory((c) => createHeap(c, options)),
    });
  },
  wraps(options): WrappedPluginSection | undefined {
    const heap = options.sample?.heap;
    if (heap === undefined) return undefined;
    return heap.options === undefined
      ? { plugin: heap.plugin }
      : { plugin: heap.plugin, options: heap.options };
  },
});
