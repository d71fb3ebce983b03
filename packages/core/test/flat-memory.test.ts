import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import { FlatMemory, FlatPageSource, isAllocatorError, type WasmMemoryLike } from "@allockit/core";

// The DOM lib is not loaded for Node code; this is the slice of the WebAssembly global we use.
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemoryLike;
};

describe("FlatMemory", () => {
  it("reads and writes little-endian values at a base address", () => {
    const memory = new FlatMemory(4096, 0x10000);
    memory.write32(0x10000, 0x11223344);
    expect(memory.read8(0x10000)).toBe(0x44);
    expect(memory.read16(0x10002)).toBe(0x1122);
    memory.write64(0x10008, 0xdeadbeef, 0x1);
    expect(memory.read64Low(0x10008)).toBe(0xdeadbeef);
    expect(memory.read64High(0x10008)).toBe(1);
    expect(memory.read64(0x10008)).toBe(0x1deadbeef);
  });

  it("raises EFAULT naming the address for accesses outside it", () => {
    const memory = new FlatMemory(4096);
    for (const access of [
      () => memory.read32(4094),
      () => memory.write8(4096, 1),
      () => memory.read8(-1),
      () => memory.read32(NaN),
    ]) {
      try {
        access();
        expect.unreachable();
      } catch (error) {
        expect(isAllocatorError(error) && error.code).toBe("EFAULT");
      }
    }
    expect(() => memory.fill(4000, 0, 200)).toThrow(/0xfa0/);
  });

  it("copies overlapping ranges like memmove", () => {
    const memory = new FlatMemory(64);
    memory.writeBytes(0, Uint8Array.from([1, 2, 3, 4, 5, 6]));
    memory.copy(2, 0, 4);
    expect([...memory.readBytes(0, 6)]).toEqual([1, 2, 1, 2, 3, 4]);
  });

  it("sits on a SharedArrayBuffer and on a WebAssembly.Memory that grows", () => {
    const shared = new FlatMemory(new SharedArrayBuffer(4096));
    shared.write16(10, 0xbeef);
    expect(shared.read16(10)).toBe(0xbeef);
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const memory = new FlatMemory(wasm);
    expect(memory.size).toBe(65536);
    wasm.grow(1);
    memory.refresh();
    memory.write32(100000, 7);
    expect(memory.read32(100000)).toBe(7);
  });
});

describe("FlatPageSource", () => {
  it("never hands out page 0 and honours the page limit", () => {
    const source = new FlatPageSource(new FlatMemory(64 * 4096), { pageLimit: 10 });
    const first = source.allocPages(10);
    expect(first).toBe(4096);
    expect(source.allocPages(1)).toBe(0);
    expect(source.stats()).toMatchObject({ pagesInUse: 10, failedCalls: 1 });
  });

  it("rejects double and foreign frees without changing state", () => {
    const source = new FlatPageSource(new FlatMemory(64 * 4096));
    const a = source.allocPages(4);
    source.freePages(a + 4096, 1);
    for (const [addr, count, code] of [
      [a + 4096, 1, "EDOUBLEFREE"],
      [a, 4, "EDOUBLEFREE"],
      [a + 1, 1, "EINVAL"],
      [64 * 4096, 1, "EFAULT"],
      [0, 1, "EFAULT"],
    ] as const) {
      try {
        source.freePages(addr, count);
        expect.unreachable();
      } catch (error) {
        expect(isAllocatorError(error) && error.code).toBe(code);
      }
    }
    expect(source.stats().pagesInUse).toBe(3);
  });

  test.prop([
    fc.array(
      fc.record({
        count: fc.integer({ min: 1, max: 12 }),
        alignShift: fc.integer({ min: 12, max: 16 }),
        boundaryShift: fc.option(fc.integer({ min: 14, max: 17 }), { nil: undefined }),
        below: fc.option(
          fc.integer({ min: 1, max: 256 }).map((p) => p * 4096),
          { nil: undefined },
        ),
        free: fc.boolean(),
      }),
      { maxLength: 40 },
    ),
  ])("physical constraints hold and runs never overlap", (requests) => {
    const source = new FlatPageSource(new FlatMemory(256 * 4096));
    const live = new Map<number, number>();
    for (const r of requests) {
      const physical = {
        align: 2 ** r.alignShift,
        ...(r.boundaryShift === undefined ? {} : { boundary: 2 ** r.boundaryShift }),
        ...(r.below === undefined ? {} : { below: r.below }),
      };
      const addr = source.allocPages(r.count, { physical });
      if (addr !== 0) {
        const end = addr + r.count * 4096;
        expect(addr % physical.align).toBe(0);
        if (physical.boundary)
          expect(Math.floor(addr / physical.boundary)).toBe(
            Math.floor((end - 1) / physical.boundary),
          );
        if (physical.below) expect(end).toBeLessThanOrEqual(physical.below);
        for (const [other, count] of live)
          expect(end <= other || addr >= other + count * 4096).toBe(true);
        live.set(addr, r.count);
      }
      if (r.free && live.size > 0) {
        const [victim, count] = live.entries().next().value!;
        source.freePages(victim, count);
        live.delete(victim);
      }
    }
    expect(source.stats().pagesInUse).toBe([...live.values()].reduce((a, b) => a + b, 0));
  });
});
