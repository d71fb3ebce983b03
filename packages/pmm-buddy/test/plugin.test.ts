import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { container } from "tsyringe";
import { API_VERSION, TOKENS, manifestProblems, resolveToken } from "@allockit/core";
import plugin, { BuddyPmm } from "@allockit/pmm-buddy";
import { boot } from "./helpers.js";

describe("pmm-buddy plugin manifest", () => {
  it("is a valid pmm manifest", () => {
    expect(manifestProblems(plugin)).toEqual([]);
    expect(plugin.apiVersion).toBe(API_VERSION);
    expect(plugin.name).toBe("@allockit/pmm-buddy");
    expect(plugin.kind).toBe("pmm");
  });

  it("fills option defaults and rejects unknown or out-of-range options", () => {
    expect(plugin.options.parse({})).toEqual({ scrub: "none", maxOrder: 10 });
    expect(plugin.options.safeParse({ maxOrder: 19 }).success).toBe(false);
    expect(plugin.options.safeParse({ scrub: "sometimes" }).success).toBe(false);
    expect(plugin.options.safeParse({ colour: "blue" }).success).toBe(false);
  });

  it("registers one BuddyPmm under TOKENS.Pmm with the options", () => {
    const child = container.createChildContainer();
    plugin.register(child, plugin.options.parse({ maxOrder: 18, scrub: "on-free" }));
    const pmm = resolveToken(child, TOKENS.Pmm);
    expect(pmm).toBeInstanceOf(BuddyPmm);
    expect(resolveToken(child, TOKENS.Pmm)).toBe(pmm);
    expect(pmm.capabilities.maxContiguousFrames).toBe(2 ** 18);
    expect((pmm as BuddyPmm).options.scrub).toBe("on-free");
  });
});

describe("BuddyPmm scrub", () => {
  it("on-alloc hands out zeroed frames", () => {
    const { pmm, ram } = boot("qemu-i440fx-128m", { scrub: "on-alloc" });
    const addr = pmm.allocFrames(3);
    ram.fill(addr, 0xab, 3 * 4096);
    pmm.freeFrames(addr, 3);
    const again = pmm.allocFrames(3);
    expect(again).toBe(addr);
    expect(ram.readBytes(again, 3 * 4096).every((b) => b === 0)).toBe(true);
  });

  it("on-free zeroes freed frames (links aside) and allocations come back zeroed", () => {
    const { pmm, ram } = boot("qemu-i440fx-128m", { scrub: "on-free" });
    const addr = pmm.allocFrames(2);
    ram.fill(addr, 0xcd, 2 * 4096);
    pmm.freeFrames(addr + 4096, 1);
    // Only the 16 link bytes of the freed block may be non-zero.
    expect(ram.readBytes(addr + 4096 + 16, 4096 - 16).every((b) => b === 0)).toBe(true);
    pmm.freeFrames(addr, 1);
    const again = pmm.allocFrames(2);
    expect(ram.readBytes(again, 2 * 4096).every((b) => b === 0)).toBe(true);
    pmm.check();
  });

  it("none leaves data in place", () => {
    const { pmm, ram } = boot("qemu-i440fx-128m");
    const addr = pmm.allocFrames(4);
    ram.fill(addr, 0xee, 4 * 4096);
    pmm.freeFrames(addr, 4);
    expect(ram.read8(addr + 4 * 4096 - 1)).toBe(0xee);
  });
});
