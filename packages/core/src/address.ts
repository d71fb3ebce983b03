/**
 * Addresses and sizes. Addresses are plain numbers: physical addresses stay below 2^52, so
 * everything here uses integer-valued float math rather than 32-bit bit operations, except where
 * a helper says it is 32-bit only.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const KiB = 1024;
export const MiB = 1024 * 1024;
export const GiB = 1024 * 1024 * 1024;
/** 2^32, to split and join 64-bit values held as two 32-bit halves. */
export const TWO_POW_32 = 4294967296;
/** Physical addresses are below 2^52 (the architectural MAXPHYADDR limit). */
export const PHYS_ADDR_LIMIT = 2 ** 52;
/** Packed long-mode virtual addresses are 48-bit: 0 .. 2^48 - 1. */
export const VIRT48_LIMIT = 2 ** 48;
const VIRT47 = 2 ** 47;

/** True when n is a positive integer power of two (1, 2, 4, ...), up to 2^52. */
export function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n <= 0) return false;
  if (n <= 0x80000000) return (n & (n - 1)) === 0 || n === 0x80000000;
  // Above 2^31: a power of two divided by 2^31 is still a power of two.
  return n % 0x80000000 === 0 && isPowerOfTwo(n / 0x80000000);
}

/** Rounds `value` down to a multiple of `align` (a power of two). */
export function alignDown(value: number, align: number): number {
  return value - (value % align);
}

/** Rounds `value` up to a multiple of `align` (a power of two). */
export function alignUp(value: number, align: number): number {
  const rest = value % align;
  return rest === 0 ? value : value + (align - rest);
}

/** True when `value` is a multiple of `align`. */
export function isAligned(value: number, align: number): boolean {
  return value % align === 0;
}

export function pageRoundDown(addr: number): number {
  return addr - (addr % PAGE_SIZE);
}

export function pageRoundUp(addr: number): number {
  return alignUp(addr, PAGE_SIZE);
}

/** Number of 4 KiB pages needed to hold `bytes`. */
export function pagesFor(bytes: number): number {
  return Math.ceil(bytes / PAGE_SIZE);
}

/** Frame number of a physical address. */
export function frameNumber(addr: number): number {
  return Math.floor(addr / PAGE_SIZE);
}

/** Smallest power of two >= n (n >= 1, up to 2^52). */
export function nextPowerOfTwo(n: number): number {
  if (n <= 1) return 1;
  if (n <= 0x80000000) return 2 ** (32 - Math.clz32(n - 1));
  return 2 ** Math.ceil(Math.log2(n));
}

/** log2 of a power of two. */
export function log2Exact(n: number): number {
  if (n <= 0x80000000) return 31 - Math.clz32(n);
  return Math.round(Math.log2(n));
}

/** Joins two 32-bit halves into a number (the high half must keep the result below 2^53). */
export function join64(lo: number, hi: number): number {
  return (hi >>> 0) * TWO_POW_32 + (lo >>> 0);
}

/** Low 32 bits of a non-negative integer below 2^53 (ToUint32 is exactly that, without fmod). */
export function low32(value: number): number {
  return value >>> 0;
}

/** High bits (above bit 31) of a non-negative integer below 2^53. */
export function high32(value: number): number {
  return Math.floor(value / TWO_POW_32) >>> 0;
}

// ---- long-mode virtual addresses: packed 48-bit form <-> canonical 64-bit form ----

/**
 * True when a 64-bit linear address is canonical: bits 63..47 all equal.
 */
export function isCanonical(address: bigint): boolean {
  const top = address >> 47n;
  return top === 0n || top === 0x1ffffn;
}

/**
 * Packs a canonical 64-bit linear address (bigint, or a hex string such as
 * "0xffff800000000000") into the 48-bit number form used everywhere else.
 * Returns -1 for a non-canonical address.
 */
export function packCanonical(address: bigint | string): number {
  const value = typeof address === "string" ? parseHexBigint(address) : address;
  if (value < 0n || value >= 1n << 64n || !isCanonical(value)) return -1;
  return Number(value & 0xffffffffffffn);
}

/** Unpacks a 48-bit packed virtual address into its canonical 64-bit value. */
export function unpackCanonical(packed: number): bigint {
  const value = BigInt(packed);
  return packed >= VIRT47 ? value | 0xffff000000000000n : value;
}

/** Prints a packed 48-bit virtual address in canonical form, e.g. "0xffff800000000000". */
export function formatCanonical(packed: number): string {
  return "0x" + unpackCanonical(packed).toString(16);
}

/** True when a packed address lies in the upper (kernel) half. */
export function isUpperHalf(packed: number): boolean {
  return packed >= VIRT47;
}

function parseHexBigint(text: string): bigint {
  const clean = text.trim().replace(/_/g, "");
  if (!/^(0x)?[0-9a-f]+$/i.test(clean))
    throw new SyntaxError(`not a hex number: ${JSON.stringify(text)}`);
  return BigInt(clean.startsWith("0x") || clean.startsWith("0X") ? clean : "0x" + clean);
}

// ---- formatting ----

/** Hex with a 0x prefix, optionally zero-padded to `digits`. Works for numbers up to 2^53. */
export function hex(value: number, digits = 0): string {
  return "0x" + value.toString(16).padStart(digits, "0");
}

/** Parses "0x1f", "1f" or a decimal string ("31") into a number; throws on anything else. */
export function parseAddress(text: string): number {
  const clean = text.trim().replace(/_/g, "");
  let value: number;
  if (/^0x[0-9a-f]+$/i.test(clean)) value = Number.parseInt(clean.slice(2), 16);
  else if (/^[0-9]+$/.test(clean)) value = Number.parseInt(clean, 10);
  else throw new SyntaxError(`not an address: ${JSON.stringify(text)}`);
  if (!Number.isSafeInteger(value)) throw new RangeError(`address too large: ${text}`);
  return value;
}

/** Human-readable size in binary units: "512 B", "4 KiB", "1.5 MiB", "64 GiB". */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = Number.isInteger(value)
    ? String(value)
    : value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, "");
  return `${text} ${units[unit]}`;
}

/** Size in KiB, for tables. */
export function toKiB(bytes: number): number {
  return bytes / KiB;
}

/** Size in MiB, for tables. */
export function toMiB(bytes: number): number {
  return bytes / MiB;
}
