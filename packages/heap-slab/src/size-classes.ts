import { PAGE_SIZE } from "./layout.js";

/**
 * heap_alloc's size classes: 8-byte steps up to 64 (as Solaris' kmem_alloc_sizes), then four
 * classes per doubling, 5/4, 6/4, 7/4 and 8/4 of the previous power of two (80, 96, 112, 128,
 * 160, 192, 224, 256, 320 ... as Solaris below 1024 and jemalloc throughout), up to 14336,
 * jemalloc's largest small class with 4 KiB pages. A request never gets more than 25% above
 * its size (up to 64 bytes, at most 7 bytes above), where Linux's power-of-two kmalloc classes
 * give up to 100%. A class aligns its objects to the largest power of two dividing its size, at
 * most a page (slabs start on page boundaries).
 */
function sizeClasses(): number[] {
  const classes: number[] = [];
  for (let size = 8; size <= 64; size += 8) classes.push(size);
  for (let step = 16; ; step *= 2) {
    for (let quarter = 5; quarter <= 8; quarter++) {
      if (quarter * step > LARGEST) return classes;
      classes.push(quarter * step);
    }
  }
}

const LARGEST = 14336;

export const SIZE_CLASSES: readonly number[] = Object.freeze(sizeClasses());

/** The largest size a class serves; larger requests get whole pages. */
export const LARGEST_CLASS = SIZE_CLASSES[SIZE_CLASSES.length - 1]!;

/** Object alignment of a size class: the largest power of two dividing it, at most a page. */
export function classAlignment(size: number): number {
  return Math.min(size & -size, PAGE_SIZE);
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
