import { describe, expect, it } from "vitest";
import {
  AllocatorError,
  checkSize,
  describeValue,
  effectiveAlign,
  isAllocatorError,
} from "@allockit/core";

describe("AllocatorError", () => {
  it("carries a code and the value, and is recognised across copies of core by its brand", () => {
    const error = new AllocatorError("EFAULT", "bad pointer", 0x1234);
    expect(error.code).toBe("EFAULT");
    expect(error.value).toBe(0x1234);
    expect(error.message).toBe("EFAULT: bad pointer");
    expect(isAllocatorError(error)).toBe(true);
    const lookalike = Object.assign(new Error("x"), {
      [Symbol.for("allockit.AllocatorError")]: true,
    });
    expect(isAllocatorError(lookalike)).toBe(true);
    expect(isAllocatorError(new Error("plain"))).toBe(false);
    expect(isAllocatorError(null)).toBe(false);
  });

  it("describes values for messages", () => {
    expect(describeValue(4096)).toBe("4096 (0x1000)");
    expect(describeValue(-8)).toBe("-8");
    expect(describeValue(NaN)).toBe("NaN");
    expect(describeValue("64")).toBe('"64"');
    expect(describeValue(5n)).toBe("5n (0x5)");
  });

  it("validates sizes and alignments", () => {
    expect(() => checkSize(-1)).toThrow(/size -1/);
    expect(effectiveAlign(0, 16, 4096)).toBe(16);
    expect(effectiveAlign(1, 16, 4096)).toBe(16);
    expect(effectiveAlign(8, 16, 4096)).toBe(16);
    expect(effectiveAlign(64, 16, 4096)).toBe(64);
    expect(() => effectiveAlign(8192, 16, 4096)).toThrow(/larger than/);
  });
});
