import "reflect-metadata";
import { fileURLToPath } from "node:url";
import { container } from "tsyringe";
import { describe, expect, it } from "vitest";
import {
  API_VERSION,
  TOKENS,
  loadPlugin,
  manifestProblems,
  parsePluginOptions,
} from "@allockit/core";
import manifest, { BitmapPmm } from "@allockit/pmm-bitmap";
import { memoryMapPreset } from "@allockit/x86-machine";
import { bootPmm, expectAllocatorError } from "./helpers.js";

const I440FX_128M = memoryMapPreset("qemu-i440fx-128m");
const PATTERN = 0xdeadbeef;

describe("BitmapPmm scrub option", () => {
  it('"on-free" zeroes frames as they are freed', () => {
    const { pmm, ram } = bootPmm(I440FX_128M, { scrub: "on-free" });
    const addr = pmm.allocFrames(2);
    ram.write32(addr + 4092, PATTERN);
    ram.write32(addr + 4096, PATTERN);
    pmm.freeFrames(addr, 2);
    expect(ram.read32(addr + 4092)).toBe(0);
    expect(ram.read32(addr + 4096)).toBe(0);
  });

  it('"on-alloc" zeroes frames as they are handed out', () => {
    const { pmm, ram } = bootPmm(I440FX_128M, { scrub: "on-alloc", fit: "first" });
    const addr = pmm.allocFrames(1);
    ram.write32(addr + 8, PATTERN);
    pmm.freeFrames(addr, 1);
    expect(ram.read32(addr + 8)).toBe(PATTERN);
    expect(pmm.allocFrames(1)).toBe(addr);
    expect(ram.read32(addr + 8)).toBe(0);
  });

  it('"none" (the default) leaves frame contents alone', () => {
    const { pmm, ram } = bootPmm(I440FX_128M, { fit: "first" });
    const addr = pmm.allocFrames(1);
    ram.write32(addr + 8, PATTERN);
    pmm.freeFrames(addr, 1);
    expect(pmm.allocFrames(1)).toBe(addr);
    expect(ram.read32(addr + 8)).toBe(PATTERN);
  });
});

describe("@allockit/pmm-bitmap plugin", () => {
  const packageDir = fileURLToPath(new URL("..", import.meta.url));

  it("exports a pmm manifest by default", () => {
    expect(manifestProblems(manifest)).toEqual([]);
    expect(manifest.apiVersion).toBe(API_VERSION);
    expect(manifest.name).toBe("@allockit/pmm-bitmap");
    expect(manifest.kind).toBe("pmm");
  });

  it("loads through the plugin loader and registers one BitmapPmm under TOKENS.Pmm", async () => {
    const loaded = await loadPlugin("@allockit/pmm-bitmap", { resolveFrom: [packageDir] });
    expect(loaded.manifest).toBe(manifest);
    const options = parsePluginOptions(loaded, {
      scrub: "on-free",
      zoneLimits: { DMA: 8 * 2 ** 20, DMA32: 64 * 2 ** 20 },
    });
    expect(options).toEqual({
      scrub: "on-free",
      fit: "next",
      zoneLimits: { DMA: 8 * 2 ** 20, DMA32: 64 * 2 ** 20 },
    });
    const child = container.createChildContainer();
    loaded.manifest.register(child, options);
    const pmm = child.resolve(TOKENS.Pmm);
    expect(pmm).toBeInstanceOf(BitmapPmm);
    expect(child.resolve(TOKENS.Pmm)).toBe(pmm);
    expect(parsePluginOptions(loaded, undefined)).toEqual({ scrub: "none", fit: "next" });
  });

  it.each([
    [{ scrub: "always" }, "scrub"],
    [{ fit: "best" }, "fit"],
    [{ zoneLimits: { DMA: -1, DMA32: 2 } }, "DMA"],
    [{ colour: true }, "colour"],
  ])("refuses options %j", async (options, mentions) => {
    const loaded = await loadPlugin("@allockit/pmm-bitmap", { resolveFrom: [packageDir] });
    expectAllocatorError(() => parsePluginOptions(loaded, options), "EPLUGIN", mentions);
  });
});
