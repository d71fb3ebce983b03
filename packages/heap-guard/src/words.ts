/**
 * `value` rounded down to a multiple of `unit` (a power of two) without the remainder operator:
 * on the machine, addresses are above 2^31 and so doubles, for which `%` (as in core's
 * alignDown) is a library call (fmod), while a divide, floor and multiply stay inline.
 */
export function floorTo(value: number, unit: number): number {
  return Math.floor(value / unit) * unit;
}
