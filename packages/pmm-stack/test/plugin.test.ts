import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { container } from "tsyringe";
import { API_VERSION, TOKENS, manifestProblems } from "@allockit/core";
import plugin, { StackPmm } from "@allockit/pmm-stack";

describe("plugin manifest", () => {
  it("is a pmm manifest of this API version", () => {
    expect(manifestProblems(plugin)).toEqual([]);
    expect(plugin).toMatchObject({
      apiVersion: API_VERSION,
      name: "@allockit/pmm-stack",
      kind: "pmm",
    });
  });

  it("fills defaults and refuses bad options", () => {
    expect(plugin.options.parse({})).toEqual({ scrub: "none", framesPerLink: "batched" });
    expect(plugin.options.safeParse({ scrub: "always" }).success).toBe(false);
    expect(plugin.options.safeParse({ framesPerLink: 2 }).success).toBe(false);
    expect(plugin.options.safeParse({ zoneLimits: { DMA: 4096 } }).success).toBe(false);
    expect(plugin.options.safeParse({ zoneLimits: { DMA: 8192, DMA32: 4096 } }).success).toBe(
      false,
    );
    expect(plugin.options.safeParse({ colour: "red" }).success).toBe(false);
  });

  it("registers one StackPmm with the options under TOKENS.Pmm", () => {
    const child = container.createChildContainer();
    const options = plugin.options.parse({
      scrub: "on-free",
      framesPerLink: "one",
      zoneLimits: { DMA: 1 << 20, DMA32: 1 << 30 },
    });
    plugin.register(child, options);
    const pmm = child.resolve(TOKENS.Pmm);
    expect(pmm).toBeInstanceOf(StackPmm);
    expect(child.resolve(TOKENS.Pmm)).toBe(pmm);
    expect((pmm as StackPmm).options).toEqual({
      scrub: "on-free",
      framesPerLink: "one",
      zoneLimits: { DMA: 1 << 20, DMA32: 1 << 30 },
    });
  });
});
