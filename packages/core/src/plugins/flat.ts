import { z } from "zod";
import { MiB } from "../address.js";
import { FlatMemory } from "../flat-memory.js";
import { FlatPageSource } from "../flat-page-source.js";
import { API_VERSION, definePlugin } from "../plugin.js";
import { TOKENS } from "../tokens.js";

/**
 * Flat memory: one ArrayBuffer, identity-mapped, with a FlatPageSource over it. Heaps run on it
 * with no machine at all.
 */
export default definePlugin({
  apiVersion: API_VERSION,
  name: "@allockit/core/flat",
  kind: "machine",
  description: "flat memory over an ArrayBuffer, with a page source (no paging)",
  options: z
    .object({
      sizeMiB: z.number().int().min(1).max(4096).default(64).describe("size of the flat memory"),
      pageLimit: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe("most pages in use at once (out-of-memory tests)"),
    })
    .strict(),
  register(container, options) {
    const memory = new FlatMemory(options.sizeMiB * MiB);
    const source = new FlatPageSource(
      memory,
      options.pageLimit === undefined ? {} : { pageLimit: options.pageLimit },
    );
    container.register(TOKENS.PhysicalMemory, { useValue: memory });
    container.register(TOKENS.Memory, { useValue: memory });
    container.register(TOKENS.PageSource, { useValue: source });
  },
});
