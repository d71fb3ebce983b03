/**
 * heap_alloc's size classes, kmalloc style: 8 bytes up to half a page. A power-of-two class
 * aligns its objects to its size; 96 and 192 to the largest power of two dividing them.
 */
export const SIZE_CLASSES: readonly number[] = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048];

/** The largest size a class serves; larger requests get whole pages. */
export const LARGEST_CLASS = SIZE_CLASSES[SIZE_CLASSES.length - 1]!;

/** Object alignment of a size class: the largest power of two dividing it. */
export function classAlignment(size: number): number {
  return size & -size;
}

/** For each size 0 .. LARGEST_CLASS in steps of 8 (index (size + 7) >> 3): the smallest class. */
export function classIndexTable(): Uint8Array {
  const table = new Uint8Array((LARGEST_CLASS >>> 3) + 1);
  let index = 0;
  for (let slot = 0; slot < table.length; slot++) {
    while (SIZE_CLASSES[index]! < slot * 8) index++;
    table[slot] = index;
  }
  return table;
}
