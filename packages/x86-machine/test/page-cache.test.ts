import { describe, expect, it } from "vitest";
import { Machine, PageFaultError } from "@allockit/x86-machine";
import { PRW, longModeMachine } from "./helpers.js";

// The CPU's last-page caches (one for reads, one for writes) sit in front of the TLB: these
// check that they behave exactly as the TLB would, stale until invalidated and no longer.

const KERNEL = 2 ** 48 - 2 ** 31;
const PTE_D = 0x40;
const PTE_A = 0x20;

function setup() {
  const env = longModeMachine();
  const pte = env.map(KERNEL, 0x200000);
  env.map(KERNEL + 0x1000, 0x300000);
  return { ...env, pte };
}

describe("last-page caches", () => {
  it("count their hits as TLB hits and walk once", () => {
    const { cpu } = setup();
    cpu.write32(KERNEL, 7);
    const before = cpu.counters();
    for (let i = 0; i < 50; i++) {
      cpu.write32(KERNEL + 4 * i, i);
      expect(cpu.read32(KERNEL + 4 * i)).toBe(i);
      expect(cpu.read8(KERNEL + 4 * i)).toBe(i);
      cpu.write16(KERNEL + 4 * i + 2, 0);
      expect(cpu.read16(KERNEL + 4 * i + 2)).toBe(0);
    }
    const after = cpu.counters();
    expect(after.hits - before.hits).toBe(250);
    expect(after.misses).toBe(before.misses);
    expect(after.walks).toBe(before.walks);
  });

  it("keep using a stale translation after a PTE change until INVLPG, then walk", () => {
    const { cpu, pte } = setup();
    cpu.write32(KERNEL + 8, 0x11111111);
    expect(cpu.read32(KERNEL + 8)).toBe(0x11111111);
    // Remap the page to another frame without INVLPG: hardware may keep using the old one.
    cpu.memory.write64(pte, 0x400000 + PRW, 0);
    cpu.memory.write32(0x400008, 0x22222222);
    expect(cpu.read32(KERNEL + 8)).toBe(0x11111111);
    cpu.write32(KERNEL + 12, 0x33333333);
    expect(cpu.memory.read32(0x20000c)).toBe(0x33333333);
    cpu.invlpg(KERNEL + 0x123);
    expect(cpu.read32(KERNEL + 8)).toBe(0x22222222);
    cpu.write32(KERNEL + 12, 0x44444444);
    expect(cpu.memory.read32(0x40000c)).toBe(0x44444444);
    expect(cpu.memory.read32(0x20000c)).toBe(0x33333333);
  });

  it("are dropped by a CR3 reload", () => {
    const { cpu, pte } = setup();
    cpu.write32(KERNEL, 1);
    expect(cpu.read32(KERNEL)).toBe(1);
    cpu.memory.write64(pte, 0x400000 + PRW, 0);
    cpu.setCr3(cpu.cr3);
    expect(cpu.read32(KERNEL)).toBe(0);
    cpu.write32(KERNEL, 5);
    expect(cpu.memory.read32(0x400000)).toBe(5);
    expect(cpu.memory.read32(0x200000)).toBe(1);
  });

  it("fault after INVLPG of a page made not present, and not before", () => {
    const { cpu, pte } = setup();
    cpu.write32(KERNEL, 9);
    expect(cpu.read32(KERNEL)).toBe(9);
    cpu.memory.write64(pte, 0, 0);
    expect(cpu.read32(KERNEL)).toBe(9); // stale, as the TLB allows
    cpu.write32(KERNEL, 10);
    cpu.invlpg(KERNEL);
    expect(() => cpu.read32(KERNEL)).toThrow(PageFaultError);
    expect(() => cpu.write32(KERNEL, 1)).toThrow(PageFaultError);
    expect(cpu.memory.read32(0x200000)).toBe(10);
  });

  it("a write after a read of a clean page walks and sets D, and later writes hit", () => {
    const { cpu, pte } = setup();
    cpu.memory.write32(0x200000, 3); // back the frame so the read takes the hit path
    expect(cpu.read32(KERNEL)).toBe(3);
    expect(cpu.read32(KERNEL + 4)).toBe(0);
    expect(cpu.memory.read32(pte) & (PTE_A | PTE_D)).toBe(PTE_A);
    const walks = cpu.counters().walks;
    cpu.write32(KERNEL + 4, 4);
    expect(cpu.memory.read32(pte) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    expect(cpu.counters().walks).toBe(walks + 1);
    // D cleared by software without INVLPG: the cached dirty entry keeps writing without
    // setting it again (as hardware may); after INVLPG the next write sets it.
    cpu.memory.write32(pte, cpu.memory.read32(pte) & ~PTE_D);
    cpu.write32(KERNEL + 8, 8);
    expect(cpu.memory.read32(pte) & PTE_D).toBe(0);
    cpu.invlpg(KERNEL);
    cpu.write32(KERNEL + 8, 9);
    expect(cpu.memory.read32(pte) & PTE_D).toBe(PTE_D);
    expect(cpu.read32(KERNEL + 8)).toBe(9);
  });

  it("are dropped when the privilege context changes (CPL 3 on a supervisor page)", () => {
    const env = longModeMachine();
    env.map(KERNEL, 0x200000, 0x3); // present, writable, supervisor only
    const { cpu } = env;
    cpu.write32(KERNEL, 1);
    expect(cpu.read32(KERNEL)).toBe(1);
    cpu.setCpl(3);
    expect(() => cpu.read32(KERNEL)).toThrow(PageFaultError);
    expect(() => cpu.write32(KERNEL, 2)).toThrow(PageFaultError);
    cpu.setCpl(0);
    expect(cpu.read32(KERNEL)).toBe(1);
  });

  it("a TLB entry replaced by another page (same TLB index) is not reached through the cache", () => {
    const machine = new Machine({ ramBytes: 64 * 1024 * 1024, tlbEntries: 16 });
    const mem = machine.memory;
    // 32-bit paging: directory at 0x1000, one page table at 0x2000 for 0 .. 4 MiB.
    mem.write32(0x1000, 0x2000 | PRW);
    mem.write32(0x2000 + 1 * 4, 0x100000 | PRW); // page 1
    mem.write32(0x2000 + 17 * 4, 0x110000 | PRW); // page 17: same index in a 16-entry TLB
    const cpu = machine.cpu;
    cpu.enablePaging("32bit", 0x1000);
    cpu.write32(0x1000 + 0x10, 0x1111); // linear 0x1010 is in page 1
    expect(cpu.read32(0x1010)).toBe(0x1111);
    // A write to page 17 replaces page 1's entry; the read cache still names page 1.
    cpu.write32(0x11010, 0x1717);
    expect(mem.read32(0x110010)).toBe(0x1717);
    // Remap page 1 (no INVLPG needed: its entry is gone), and the next read must walk.
    mem.write32(0x2000 + 1 * 4, 0x120000 | PRW);
    expect(cpu.read32(0x1010)).toBe(0);
    cpu.write32(0x1010, 0x1212);
    expect(mem.read32(0x120010)).toBe(0x1212);
    expect(mem.read32(0x100010)).toBe(0x1111);
  });

  it("fill, copy and bytes in and out go through the same translations", () => {
    const { cpu, pte } = setup();
    cpu.fill(KERNEL + 0xff0, 0x5a, 0x20);
    expect(cpu.memory.read32(0x200ffc)).toBe(0x5a5a5a5a);
    expect(cpu.memory.read32(0x300000)).toBe(0x5a5a5a5a);
    cpu.writeBytes(KERNEL + 0xff8, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    expect([...cpu.readBytes(KERNEL + 0xff8, 12)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // Overlapping copy behaves like memmove, across the page boundary.
    cpu.copy(KERNEL + 0xffa, KERNEL + 0xff8, 10);
    expect([...cpu.readBytes(KERNEL + 0xff8, 12)]).toEqual([1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // A long copy (past the short-run loop), then a stale-mapping check for fill.
    const big = new Uint8Array(3000).map((_, i) => i & 0xff);
    cpu.writeBytes(KERNEL + 0x800, big);
    cpu.copy(KERNEL + 0x100, KERNEL + 0x800, 3000);
    expect([...cpu.readBytes(KERNEL + 0x100, 3000)]).toEqual([...big]);
    cpu.memory.write64(pte, 0x400000 + PRW, 0);
    cpu.fill(KERNEL, 0x77, 16); // stale: still the old frame
    expect(cpu.memory.read32(0x200000)).toBe(0x77777777);
    cpu.invlpg(KERNEL);
    cpu.fill(KERNEL, 0x66, 16);
    expect(cpu.memory.read32(0x400000)).toBe(0x66666666);
    expect(cpu.memory.read32(0x200000)).toBe(0x77777777);
  });
});
