import type { PhysicalMemory } from "@allockit/core";

/**
 * One bit per managed frame in simulated RAM, 1 = allocated. Zero means free, so a bitmap that
 * was never written (sparse RAM reads it as zero) already says "all free" and init writes
 * nothing into it. Bit i is bit (i % 8) of byte i / 8, which is also bit (i % 32) of the
 * little-endian 32-bit word i / 32.
 */
export class FrameBitmap {
  constructor(
    private readonly memory: PhysicalMemory,
    /** Physical address of bit 0 (4-byte aligned). */
    readonly address: number,
    /** Bits it holds. */
    readonly bits: number,
  ) {}

  /** The byte holding `bit`: hot paths test and then set or clear a bit with one read. */
  byteOf(bit: number): number {
    return this.memory.read8(this.byteAddress(bit));
  }

  writeByteOf(bit: number, value: number): void {
    this.memory.write8(this.byteAddress(bit), value);
  }

  isSet(bit: number): boolean {
    // `bit & 7` is exact for any safe integer: ToInt32 keeps the value modulo 2^32.
    return ((this.memory.read8(this.byteAddress(bit)) >>> (bit & 7)) & 1) !== 0;
  }

  set(bit: number): void {
    const at = this.byteAddress(bit);
    this.memory.write8(at, this.memory.read8(at) | (1 << (bit & 7)));
  }

  clear(bit: number): void {
    const at = this.byteAddress(bit);
    this.memory.write8(at, this.memory.read8(at) & ~(1 << (bit & 7)));
  }

  /** Set bits in [fromBit, toBit). */
  countSet(fromBit: number, toBit: number): number {
    let count = 0;
    let bit = fromBit;
    while (bit < toBit) {
      const word = this.wordAt(bit, toBit);
      count += popcount32(word);
      bit = nextWordStart(bit);
    }
    return count;
  }

  /** First set bit in [fromBit, toBit), or -1. */
  firstSet(fromBit: number, toBit: number): number {
    let bit = fromBit;
    while (bit < toBit) {
      const word = this.wordAt(bit, toBit);
      if (word !== 0) return bit - (bit % 32) + (31 - Math.clz32(word & -word));
      bit = nextWordStart(bit);
    }
    return -1;
  }

  private byteAddress(bit: number): number {
    return this.address + (bit - (bit & 7)) / 8;
  }

  /** The word holding `bit`, with the bits below `bit` and from `toBit` on masked off. */
  private wordAt(bit: number, toBit: number): number {
    const wordStart = bit - (bit % 32);
    let word = this.memory.read32(this.address + wordStart / 8);
    const low = bit - wordStart;
    if (low > 0) word &= ~0 << low;
    const high = toBit - wordStart;
    if (high < 32) word &= (1 << high) - 1;
    return word;
  }
}

function nextWordStart(bit: number): number {
  return bit - (bit % 32) + 32;
}

function popcount32(value: number): number {
  let v = value - ((value >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}
