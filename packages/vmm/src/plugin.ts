import "reflect-metadata";
import { API_VERSION, KiB, TOKENS, definePlugin } from "@allockit/core";
import { instanceCachingFactory } from "tsyringe";
import { z } from "zod";
import { VMM_MODES } from "./layout.js";
import { X86Vmm } from "./x86-vmm.js";

/**
 * The x86 VMM under TOKENS.Vmm; after boot, its kernel heap region is the PageSource the heap
 * grows from and the boot CPU is the Memory the heap reaches it through.
 */
export default definePlugin({
  apiVersion: API_VERSION,
  name: "@allockit/vmm",
  kind: "vmm",
  description: "x86 VMM: region trees, page tables in 32-bit / PAE / long mode, demand paging",
  options: z
    .object({
      mode: z
        .enum(VMM_MODES as [string, ...string[]])
        .default("long")
        .describe("paging mode"),
      access: z
        .enum(["direct-map", "recursive", "window"])
        .default("direct-map")
        .describe("how page tables are reached once paging is on"),
      kernelHeapKiB: z
        .number()
        .int()
        .min(4)
        .default(1024)
        .refine((kib) => kib % 4 === 0, "must be a multiple of 4 KiB")
        .describe("initial size of the kernel heap region (it grows)"),
      kernelHeapCommit: z
        .boolean()
        .default(true)
        .describe("commit the kernel heap's pages when handed out (false: fault them in)"),
    })
    .strict(),
  register(container, options) {
    container.register(TOKENS.Vmm, {
      useFactory: instanceCachingFactory(
        () =>
          new X86Vmm({
            mode: options.mode as "32bit" | "pae" | "long",
            access: options.access,
            kernelHeapBytes: options.kernelHeapKiB * KiB,
            kernelHeapCommit: options.kernelHeapCommit,
          }),
      ),
    });
    container.register(TOKENS.PageSource, {
      useFactory: (c) => (c.resolve(TOKENS.Vmm) as X86Vmm).kernelHeap,
    });
    container.register(TOKENS.Memory, {
      useFactory: (c) => (c.resolve(TOKENS.Vmm) as X86Vmm).memory,
    });
  },
});
