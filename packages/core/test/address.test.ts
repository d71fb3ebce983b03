import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import {
  alignDown,
  alignUp,
  formatCanonical,
  formatSize,
  hex,
  isCanonical,
  isPowerOfTwo,
  join64,
  high32,
  low32,
  nextPowerOfTwo,
  packCanonical,
  pageRoundDown,
  pageRoundUp,
  parseAddress,
  unpackCanonical,
} from "@allockit/core";

describe("power of two and alignment", () => {
  it("recognises powers of two up to 2^52 and rejects everything else", () => {
    for (let e = 0; e <= 52; e++) expect(isPowerOfTwo(2 ** e)).toBe(true);
    for (const n of [
      0,
      -1,
      -8,
      3,
      6,
      12,
      1.5,
      NaN,
      Infinity,
      2 ** 40 + 4096,
      2 ** 53,
      0x80000001,
    ]) {
      expect(isPowerOfTwo(n)).toBe(false);
    }
  });

  test.prop([fc.integer({ min: 0, max: 2 ** 50 }), fc.integer({ min: 0, max: 30 })])(
    "alignUp/alignDown bracket the value at the nearest multiples",
    (value, shift) => {
      const align = 2 ** shift;
      const down = alignDown(value, align);
      const up = alignUp(value, align);
      expect(down % align).toBe(0);
      expect(up % align).toBe(0);
      expect(down).toBeLessThanOrEqual(value);
      expect(up).toBeGreaterThanOrEqual(value);
      expect(up - down).toBe(value % align === 0 ? 0 : align);
    },
  );

  it("rounds to pages above 4 GiB without 32-bit truncation", () => {
    expect(pageRoundDown(0x1_2345_6789)).toBe(0x1_2345_6000);
    expect(pageRoundUp(0x1_2345_6789)).toBe(0x1_2345_7000);
    expect(pageRoundUp(0x1000)).toBe(0x1000);
  });

  it("finds the next power of two", () => {
    expect([1, 2, 3, 5, 4096, 4097, 2 ** 31 + 1, 2 ** 40 - 1].map(nextPowerOfTwo)).toEqual([
      1,
      2,
      4,
      8,
      4096,
      8192,
      2 ** 32,
      2 ** 40,
    ]);
  });

  test.prop([fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })])(
    "splits and joins 64-bit values",
    (v) => {
      expect(join64(low32(v), high32(v))).toBe(v);
    },
  );
});

describe("long-mode virtual addresses", () => {
  it("packs the canonical upper half into 2^47 .. 2^48-1", () => {
    expect(packCanonical("0xffff800000000000")).toBe(2 ** 47);
    expect(packCanonical("0xffffffff80000000")).toBe(2 ** 48 - 2 ** 31);
    expect(packCanonical(0x00007fffffffffffn)).toBe(2 ** 47 - 1);
    expect(formatCanonical(2 ** 48 - 2 ** 31)).toBe("0xffffffff80000000");
    expect(formatCanonical(0x1234)).toBe("0x1234");
  });

  it("rejects non-canonical addresses", () => {
    expect(packCanonical("0x0000800000000000")).toBe(-1);
    expect(packCanonical("0xfffe000000000000")).toBe(-1);
    expect(isCanonical(0x0000800000000000n)).toBe(false);
    expect(() => packCanonical("0xzz")).toThrow(SyntaxError);
  });

  test.prop([fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })])(
    "pack and unpack are inverse on canonical addresses",
    (a) => {
      const packed = packCanonical(a);
      if (!isCanonical(a)) {
        expect(packed).toBe(-1);
        return;
      }
      expect(packed).toBeGreaterThanOrEqual(0);
      expect(packed).toBeLessThan(2 ** 48);
      expect(unpackCanonical(packed)).toBe(a);
    },
  );
});

describe("formatting", () => {
  it("prints hex and sizes", () => {
    expect(hex(0xc0000000)).toBe("0xc0000000");
    expect(hex(0x1000, 8)).toBe("0x00001000");
    expect(hex(2 ** 40)).toBe("0x10000000000");
    expect(formatSize(512)).toBe("512 B");
    expect(formatSize(4096)).toBe("4 KiB");
    expect(formatSize(1.5 * 1024 * 1024)).toBe("1.5 MiB");
    expect(formatSize(64 * 2 ** 30)).toBe("64 GiB");
  });

  it("parses addresses in hex and decimal", () => {
    expect(parseAddress("0xffff_ffff")).toBe(0xffffffff);
    expect(parseAddress("4096")).toBe(4096);
    expect(() => parseAddress("12ab")).toThrow(SyntaxError);
  });
});
