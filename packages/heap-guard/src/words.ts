/**
 * Low and high 32-bit halves of an address, as core's low32 / high32 give them, without the
 * remainder operator: on the machine, addresses are above 2^31 and so doubles, for which `%`
 * is a library call (fmod), while a divide, floor and multiply stay inline.
 */
const TWO_POW_32 = 4294967296;

export function hi32(value: number): number {
  return Math.floor(value / TWO_POW_32) >>> 0;
}

export function lo32(value: number): number {
  return (value - Math.floor(value / TWO_POW_32) * TWO_POW_32) >>> 0;
}

/** `value` rounded down to a multiple of `unit` (a power of two), without `%`. */
export function floorTo(value: number, unit: number): number {
  return Math.floor(value / unit) * unit;
}
