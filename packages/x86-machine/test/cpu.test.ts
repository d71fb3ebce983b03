import { describe, expect, it } from "vitest";
import {
  DoubleFaultError,
  GeneralProtectionError,
  Machine,
  PageFaultError,
  PF_P,
  PF_W,
  type PageFaultInfo,
} from "@allockit/x86-machine";
import { PRW, longModeMachine } from "./helpers.js";

const KERNEL = 2 ** 48 - 2 ** 31; // 0xffffffff80000000, packed

describe("CPU data access through the MMU", () => {
  it("reads and writes through the page tables and counts TLB hits", () => {
    const { cpu, map } = longModeMachine();
    map(KERNEL, 0x200000);
    cpu.write32(KERNEL + 0x10, 0x12345678);
    expect(cpu.memory.read32(0x200010)).toBe(0x12345678);
    const before = cpu.counters().hits;
    for (let i = 0; i < 100; i++) expect(cpu.read32(KERNEL + 0x10)).toBe(0x12345678);
    expect(cpu.counters().hits - before).toBe(100);
    expect(cpu.counters().walks).toBe(1); // one walk filled the entry; the write went through it
  });

  it("implements Memory across pages: fill, copy, bytes in and out", () => {
    const { cpu, map } = longModeMachine();
    map(KERNEL, 0x300000);
    map(KERNEL + 0x1000, 0x500000); // not physically contiguous
    cpu.fill(KERNEL + 0xff0, 0x5a, 0x20);
    expect(cpu.memory.read32(0x300ffc)).toBe(0x5a5a5a5a);
    expect(cpu.memory.read32(0x500000)).toBe(0x5a5a5a5a);
    expect(cpu.memory.read32(0x500010)).toBe(0);
    cpu.write32(KERNEL + 0xffe, 0xa1b2c3d4); // straddles the two pages
    expect(cpu.read32(KERNEL + 0xffe)).toBe(0xa1b2c3d4);
    expect(cpu.memory.read16(0x500000)).toBe(0xa1b2);
    cpu.writeBytes(KERNEL + 0xffc, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    expect([...cpu.readBytes(KERNEL + 0xffc, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    cpu.copy(KERNEL + 0x10, KERNEL + 0xffc, 8);
    expect([...cpu.memory.readBytes(0x300010, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("sets D when writing through an entry that a read filled", () => {
    const { cpu, map } = longModeMachine();
    const pte = map(KERNEL, 0x200000);
    cpu.read32(KERNEL);
    expect(cpu.memory.read32(pte) & 0x60).toBe(0x20); // A, not D
    cpu.write32(KERNEL, 1);
    expect(cpu.memory.read32(pte) & 0x60).toBe(0x60);
  });
});

describe("page faults", () => {
  it("calls the handler, which maps the page, and retries the access", () => {
    const { cpu, machine, map } = longModeMachine();
    const seen: PageFaultInfo[] = [];
    machine.setPageFaultHandler((fault) => {
      seen.push(fault);
      map(fault.address - (fault.address % 4096), 0x600000);
      return true;
    });
    cpu.write32(KERNEL + 0x2008, 99);
    expect(cpu.read32(KERNEL + 0x2008)).toBe(99);
    expect(cpu.memory.read32(0x600008)).toBe(99);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      address: KERNEL + 0x2008,
      access: "write",
      errorCode: PF_W,
      cpl: 0,
      cpu: 0,
    });
    expect(cpu.cr2).toBe(KERNEL + 0x2008);
  });

  it("raises PageFaultError with CR2, error code and the rule when nothing resolves it", () => {
    const { cpu, map } = longModeMachine();
    map(KERNEL, 0x200000, 0x5); // present, user, read-only
    cpu.setCr0(cpu.cr0 | 0x10000); // WP
    let error: unknown;
    try {
      cpu.write32(KERNEL, 1);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PageFaultError);
    const fault = error as PageFaultError;
    expect(fault.cr2).toBe(KERNEL);
    expect(fault.errorCode).toBe(PF_P | PF_W);
    expect(fault.vector).toBe(14);
    expect(fault.message).toContain("0xffffffff80000000");
    expect(fault.message).toContain("CR0.WP=1");
  });

  it("a handler that says resolved without fixing anything ends in PageFaultError, not a hang", () => {
    const { cpu, machine } = longModeMachine();
    let calls = 0;
    machine.setPageFaultHandler(() => ++calls > 0);
    expect(() => cpu.read32(KERNEL)).toThrow(/reported it resolved 8 times/);
    expect(calls).toBe(8);
  });

  it("a fault inside the handler is a double fault", () => {
    const { cpu, machine } = longModeMachine();
    machine.setPageFaultHandler(() => {
      cpu.read32(KERNEL + 0x5000); // also unmapped
      return true;
    });
    let error: unknown;
    try {
      cpu.read32(KERNEL);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DoubleFaultError);
    expect((error as DoubleFaultError).vector).toBe(8);
    expect((error as DoubleFaultError).first.address).toBe(KERNEL);
  });

  it("a non-canonical (unpackable) address is #GP", () => {
    const { cpu } = longModeMachine();
    expect(() => cpu.read32(2 ** 48)).toThrow(GeneralProtectionError);
    expect(() => cpu.read32(-4)).toThrow(GeneralProtectionError);
  });
});

describe("several CPUs", () => {
  it("a missing TLB shootdown shows: the other CPU keeps the stale translation until its own INVLPG", () => {
    const machine = new Machine({ cpus: 2, ramBytes: 64 * 1024 * 1024 });
    // 32-bit paging: PD at 0x1000, PT at 0x2000, va 0x400000 -> frame 0x5000.
    machine.memory.write32(0x1004, 0x2000 | PRW);
    machine.memory.write32(0x2000, 0x5000 | PRW);
    machine.memory.write32(0x5000, 111);
    machine.memory.write32(0x6000, 222);
    const [cpu0, cpu1] = machine.cpus;
    for (const cpu of machine.cpus) cpu.enablePaging("32bit", 0x1000);
    expect(cpu0!.read32(0x400000)).toBe(111);
    expect(cpu1!.read32(0x400000)).toBe(111);
    machine.memory.write32(0x2000, 0x6000 | PRW); // remap, then invalidate on CPU 0 only
    cpu0!.invlpg(0x400000);
    expect(cpu0!.read32(0x400000)).toBe(222);
    expect(cpu1!.read32(0x400000)).toBe(111);
    cpu1!.invlpg(0x400000);
    expect(cpu1!.read32(0x400000)).toBe(222);
  });
});
