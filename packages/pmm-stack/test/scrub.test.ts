import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@allockit/core";
import type { PhysicalRam } from "@allockit/x86-machine";
import { LAYOUTS, machine } from "./helpers.js";

// More frames than a link page holds, so link pages fill up, spill and are handed out.
const FRAMES = 2500;

function writePattern(ram: PhysicalRam, addr: number): void {
  for (let offset = 0; offset < PAGE_SIZE; offset += 4) ram.write32(addr + offset, 0xdeadbeef);
}

function isZero(ram: PhysicalRam, addr: number): boolean {
  return ram.readBytes(addr, PAGE_SIZE).every((byte) => byte === 0);
}

describe.each(LAYOUTS)("scrub (%s links)", (framesPerLink) => {
  it("on-alloc: every frame handed out reads zero", () => {
    const { pmm, ram } = machine("qemu-i440fx-128m", { framesPerLink, scrub: "on-alloc" });
    const frames = Array.from({ length: FRAMES }, () => pmm.allocFrames(1));
    for (const addr of frames) writePattern(ram, addr);
    for (const addr of frames) pmm.freeFrames(addr, 1);
    const again = Array.from({ length: FRAMES }, () => pmm.allocFrames(1));
    expect(new Set(again)).toEqual(new Set(frames));
    expect(again.every((addr) => isZero(ram, addr))).toBe(true);
    pmm.check();
  });

  it("on-free: freed frames are zeroed at once, and every frame handed out reads zero", () => {
    const { pmm, ram } = machine("qemu-i440fx-128m", { framesPerLink, scrub: "on-free" });
    const frames = Array.from({ length: FRAMES }, () => pmm.allocFrames(1));
    for (const addr of frames) writePattern(ram, addr);
    pmm.freeFrames(frames[0]!, 1);
    // Zeroed, but for the words the free stack keeps in it.
    expect(ram.read32(frames[0]! + PAGE_SIZE - 4)).toBe(0);
    for (const addr of frames.slice(1)) pmm.freeFrames(addr, 1);
    const again = Array.from({ length: FRAMES }, () => pmm.allocFrames(1));
    expect(new Set(again)).toEqual(new Set(frames));
    expect(again.every((addr) => isZero(ram, addr))).toBe(true);
    pmm.check();
  });

  it("on-free: a never-used frame is zeroed when first handed out (RAM holds garbage at boot)", () => {
    const { pmm, ram } = machine("qemu-i440fx-128m", { framesPerLink, scrub: "on-free" });
    const probe = pmm.allocFrames(1);
    pmm.freeFrames(probe, 1);
    const next = probe + 10 * PAGE_SIZE; // still untouched: the fill goes upward
    writePattern(ram, next);
    const frames = Array.from({ length: 11 }, () => pmm.allocFrames(1));
    expect(frames).toContain(next);
    expect(isZero(ram, next)).toBe(true);
  });

  it("none: the data stays (a freed frame comes back as it was, but for the stack's words)", () => {
    const { pmm, ram } = machine("qemu-i440fx-128m", { framesPerLink });
    const frames = Array.from({ length: 3 }, () => pmm.allocFrames(1));
    for (const addr of frames) writePattern(ram, addr);
    for (const addr of frames) pmm.freeFrames(addr, 1);
    const top = pmm.allocFrames(1);
    expect(top).toBe(frames[2]);
    expect(ram.read32(top + PAGE_SIZE - 4)).toBe(0xdeadbeef);
  });
});
