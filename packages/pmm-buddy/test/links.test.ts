import { describe, expect, it } from "vitest";
import { BumpBootAllocator, MiB, type MemoryMap } from "@allockit/core";
import { BuddyPmm } from "@allockit/pmm-buddy";
import { PhysicalRam } from "@allockit/x86-machine";
import { KERNEL, boot, expectAllocatorError, expectRejected, shuffled } from "./helpers.js";

const TiB = 2 ** 40;

/** Low RAM plus 64 MiB at 32 TiB, where frame numbers no longer fit 32 bits. */
const HIGH_MAP: MemoryMap = [
  { base: 0, length: 0x9fc00, type: "usable" },
  { base: 0x100000, length: 63 * MiB, type: "usable" },
  { base: 32 * TiB, length: 64 * MiB, type: "usable" },
];

function bootHigh() {
  const ram = new PhysicalRam(HIGH_MAP);
  const bootAllocator = new BumpBootAllocator(HIGH_MAP, { reserved: [KERNEL] });
  const pmm = new BuddyPmm({ maxOrder: 10 });
  pmm.init(HIGH_MAP, bootAllocator, ram);
  return { pmm, ram };
}

describe("BuddyPmm free-list links", () => {
  it("keeps 64-bit links when frame numbers reach 2^32 (RAM above 16 TiB)", () => {
    const { pmm, ram } = bootHigh();
    const initial = pmm.freeBlocksPerOrder();
    const frames: number[] = [];
    for (let i = 0; i < 4096; i++) frames.push(pmm.allocFrames(1));
    expect(frames.every((addr) => addr >= 32 * TiB)).toBe(true);
    // Scatter isolated order-0 blocks, so single frames go through the list fast paths.
    frames.forEach((addr, i) => i % 3 === 0 && pmm.freeFrames(addr, 1));
    pmm.check();
    const again = Array.from({ length: 100 }, () => pmm.allocFrames(1));
    again.forEach((addr) => pmm.freeFrames(addr, 1));
    pmm.check();
    // The high half of a link matters: break it on a block in the middle of a list.
    const victim = frames[3]!;
    const high = ram.read32(victim + 4);
    expect(high).toBe(Math.floor(frames[0]! / 4096 / 2 ** 32));
    ram.write32(victim + 4, high + 1);
    expectAllocatorError(() => pmm.check(), "ECORRUPT");
    ram.write32(victim + 4, high);
    pmm.check();
    expectRejected(pmm, () => pmm.freeFrames(frames[0]!, 1), "EDOUBLEFREE", "already free");
    for (const addr of shuffled(frames.filter((_, i) => i % 3 !== 0))) pmm.freeFrames(addr, 1);
    expect(pmm.freeBlocksPerOrder()).toEqual(initial);
    pmm.check();
  });

  it("uses 32-bit frame-number links below 16 TiB and keeps no previous link for the head", () => {
    const { pmm, ram } = boot("qemu-i440fx-128m");
    const frames = Array.from({ length: 8 }, () => pmm.allocFrames(1));
    frames.forEach((addr, i) => i % 2 === 0 && pmm.freeFrames(addr, 1));
    // Freed last, frames[6] heads the order-0 list; its next is frames[4], which links back.
    expect(ram.read32(frames[6]!)).toBe(frames[4]! / 4096);
    expect(ram.read32(frames[4]! + 8)).toBe(frames[6]! / 4096);
    // Taking the head reads one link and leaves the new head's stale previous link alone.
    expect(pmm.allocFrames(1)).toBe(frames[6]);
    expect(ram.read32(frames[4]! + 8)).toBe(frames[6]! / 4096);
    pmm.check();
    pmm.freeFrames(frames[6]!, 1);
    pmm.check();
  });

  it("refuses to hand out a list head whose free bit was cleared behind its back", () => {
    const { pmm, ram } = boot("qemu-i440fx-128m");
    const frames = Array.from({ length: 8 }, () => pmm.allocFrames(1));
    frames.forEach((addr, i) => i % 2 === 0 && pmm.freeFrames(addr, 1));
    // Point the head's next link at an allocated frame: the next allocation takes the head,
    // and the one after must notice that the new head is not free.
    ram.write32(frames[6]!, frames[5]! / 4096);
    expect(pmm.allocFrames(1)).toBe(frames[6]);
    expectAllocatorError(() => pmm.allocFrames(1), "ECORRUPT", "free bit clear");
  });
});
