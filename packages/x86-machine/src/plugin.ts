import { API_VERSION, KiB, MiB, TOKENS, definePlugin, type BootInfo } from "@allockit/core";
import { z } from "zod";
import { MEMORY_MAP_PRESETS, memoryMapPreset } from "./firmware/presets.js";
import { Machine } from "./machine.js";

/**
 * The simulated x86 machine as a machine plugin: RAM from a firmware-map preset or a plain size,
 * its CPUs, and what the boot loader left (the kernel image at 1 MiB).
 */
export default definePlugin({
  apiVersion: API_VERSION,
  name: "@allockit/x86-machine",
  kind: "machine",
  description:
    "simulated x86 machine: sparse RAM over a firmware memory map, CPUs with MMU and TLB",
  options: z
    .object({
      ramMiB: z
        .number()
        .int()
        .min(4)
        .max(4 * 1024 * 1024)
        .default(256)
        .describe("RAM from address 0, when no preset is named"),
      preset: z
        .enum(Object.keys(MEMORY_MAP_PRESETS) as [string, ...string[]])
        .optional()
        .describe("a real firmware memory map (QEMU + SeaBIOS) instead of ramMiB"),
      cpus: z.number().int().min(1).max(256).default(1).describe("number of CPUs"),
      maxPhysAddr: z.number().int().min(32).max(52).default(40).describe("MAXPHYADDR"),
      page1GB: z.boolean().default(true).describe("1 GiB pages in 4-level paging"),
      kernelImageKiB: z
        .number()
        .int()
        .min(4)
        .max(64 * 1024)
        .default(1024)
        .describe("size of the kernel image the boot loader put at 1 MiB"),
    })
    .strict(),
  register(container, options) {
    const machine = new Machine({
      ...(options.preset === undefined
        ? { ramBytes: options.ramMiB * MiB }
        : { memoryMap: memoryMapPreset(options.preset) }),
      cpus: options.cpus,
      maxPhysAddr: options.maxPhysAddr,
      page1GB: options.page1GB,
    });
    const bootInfo: BootInfo = {
      kernelImage: { base: MiB, length: options.kernelImageKiB * KiB, name: "kernel image" },
    };
    container.register(TOKENS.Machine, { useValue: machine });
    container.register(TOKENS.PhysicalMemory, { useValue: machine.memory });
    container.register(TOKENS.MemoryMap, { useValue: machine.memoryMap });
    container.register(TOKENS.BootInfo, { useValue: bootInfo });
    container.register(TOKENS.Memory, { useValue: machine.cpu });
  },
});
