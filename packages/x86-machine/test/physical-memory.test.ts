import { describe, expect, it } from "vitest";
import { BusError, PhysicalRam } from "@allockit/x86-machine";

const GiB = 2 ** 30;

describe("PhysicalRam", () => {
  it("backs only the pages written: a 64 GiB map costs what was touched", () => {
    const ram = new PhysicalRam([
      { base: 0, length: 0x9fc00, type: "usable" },
      { base: 0x100000, length: 3 * GiB - 0x100000, type: "usable" },
      { base: 4 * GiB, length: 61 * GiB, type: "usable" },
    ]);
    const last = 65 * GiB - 8;
    expect(ram.read32(last)).toBe(0); // never written: zero, and no page behind it
    expect(ram.touchedPages).toBe(0);
    ram.write64(last, 0xdeadbeef, 0xcafe);
    expect(ram.read64Low(last)).toBe(0xdeadbeef);
    expect(ram.read64High(last)).toBe(0xcafe);
    ram.write32(0x1000, 7);
    expect(ram.touchedPages).toBe(2);
    expect(ram.hostBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
  });

  it("raises BusError naming the address and the map entry or hole in strict mode", () => {
    const ram = new PhysicalRam([
      { base: 0, length: 0x9fc00, type: "usable" },
      { base: 0x9fc00, length: 0x400, type: "reserved" },
      { base: 0x100000, length: 0x100000, type: "usable" },
    ]);
    expect(() => ram.read32(0x9fc10)).toThrow(BusError);
    expect(() => ram.read32(0x9fc10)).toThrow(/0x9fc10 is in reserved range 0x9fc00-0x9ffff/);
    expect(() => ram.write8(0xb8000, 1)).toThrow(
      /0xb8000 is in a hole of the memory map \(0xa0000-0xfffff\)/,
    );
    expect(() => ram.read32(0x9fbfe)).toThrow(BusError); // straddles the end of RAM
  });

  it("reads all-ones and drops writes off RAM when not strict", () => {
    const ram = new PhysicalRam([{ base: 0, length: 0x10000, type: "usable" }], { strict: false });
    ram.write32(0x20000, 5);
    expect(ram.read32(0x20000)).toBe(0xffffffff);
    expect(ram.read8(0x20000)).toBe(0xff);
  });

  it("routes registered MMIO ranges to their handler", () => {
    const ram = new PhysicalRam([{ base: 0, length: 0x100000, type: "usable" }]);
    const writes: Array<[number, number, number]> = [];
    ram.mapMmio(
      0xfd000000,
      0x1000,
      { read: (offset) => 0x1000 + offset, write: (o, w, v) => writes.push([o, w, v]) },
      "fb",
    );
    expect(ram.read32(0xfd000010)).toBe(0x1010);
    ram.write16(0xfd000020, 0xbeef);
    expect(writes).toEqual([[0x20, 2, 0xbeef]]);
    expect(() => ram.mapMmio(0xfd000800, 0x1000, { read: () => 0, write: () => {} })).toThrow(
      /overlaps/,
    );
  });

  it("handles values that straddle a page boundary and bulk operations across pages", () => {
    const ram = new PhysicalRam([{ base: 0, length: 0x100000, type: "usable" }]);
    ram.write32(0x1ffe, 0x11223344);
    expect(ram.read16(0x1ffe)).toBe(0x3344);
    expect(ram.read16(0x2000)).toBe(0x1122);
    expect(ram.read32(0x1ffe)).toBe(0x11223344);
    ram.fill(0x3ff0, 0xab, 0x20);
    expect([...ram.readBytes(0x3fee, 4)]).toEqual([0, 0, 0xab, 0xab]);
    ram.copy(0x8000, 0x3ff0, 0x20);
    expect(ram.read32(0x801c)).toBe(0xabababab);
  });
});
