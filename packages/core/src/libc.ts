import { PAGE_SIZE, alignUp, isPowerOfTwo } from "./address.js";
import type { Heap } from "./contracts/heap.js";
import { AllocatorError, describeValue } from "./errors.js";
import { checkSize } from "./validate.js";

/** errno values the libc layer returns or records (Linux numbering). */
export const ERRNO = { ENOMEM: 12, EINVAL: 22 } as const;

/** The size of a pointer in the C ABI these functions model (x86-64). */
export const POINTER_SIZE = 8;

/** Out-parameter of posix_memalign, standing in for `void **memptr`. */
export interface PointerOut {
  value: number;
}

/**
 * The C library's allocation functions over any {@link Heap}. Data is read and written through
 * the heap's `memory`. Failures return 0 and set `errno` as C does; bad arguments to the
 * functions whose C contract leaves them undefined throw an AllocatorError (EINVAL).
 */
export class Libc {
  /** errno after the last call that failed (0 until then). */
  errno = 0;

  constructor(readonly heap: Heap) {}

  malloc(size: number): number {
    checkSize(size);
    return this.note(this.heap.heap_alloc(size, 0));
  }

  /** n x size zeroed bytes; an overflowing product returns 0 and allocates nothing. */
  calloc(count: number, size: number): number {
    checkSize(count, "count");
    checkSize(size);
    const total = count * size;
    if (!Number.isSafeInteger(total)) {
      this.errno = ERRNO.ENOMEM;
      return 0;
    }
    const ptr = this.note(this.heap.heap_alloc(total, 0));
    if (ptr !== 0) this.heap.memory.fill(ptr, 0, total);
    return ptr;
  }

  /**
   * Resizes a block: in place when its usable size already suffices; otherwise a new block
   * gets min(old usable, new) bytes and the old one is freed. realloc(0, n) is malloc(n);
   * realloc(p, 0) frees p and returns 0. On failure the old block stays valid and 0 returns.
   */
  realloc(ptr: number, size: number): number {
    checkSize(size);
    if (ptr === 0) return this.malloc(size);
    const usable = this.heap.heap_size(ptr);
    if (usable === 0) {
      throw new AllocatorError(
        "EFAULT",
        `realloc: pointer ${describeValue(ptr)} was not handed out by ${this.heap.name}`,
        ptr,
      );
    }
    if (size === 0) {
      this.heap.heap_free(ptr);
      return 0;
    }
    if (size <= usable) return ptr;
    const fresh = this.note(this.heap.heap_alloc(size, 0));
    if (fresh === 0) return 0;
    this.heap.memory.copy(fresh, ptr, Math.min(usable, size));
    this.heap.heap_free(ptr);
    return fresh;
  }

  free(ptr: number): void {
    this.heap.heap_free(ptr);
  }

  /**
   * POSIX: stores the block in `out.value` and returns 0, or returns EINVAL for an alignment
   * that is not a power-of-two multiple of the pointer size, or ENOMEM; `out` is untouched then.
   */
  posix_memalign(out: PointerOut, alignment: number, size: number): number {
    if (
      !isPowerOfTwo(alignment) ||
      alignment % POINTER_SIZE !== 0 ||
      alignment > this.heap.maxAlign
    ) {
      return ERRNO.EINVAL;
    }
    checkSize(size);
    const ptr = this.heap.heap_alloc(size, alignment);
    if (ptr === 0) return ERRNO.ENOMEM;
    out.value = ptr;
    return 0;
  }

  /** C11: a power-of-two alignment (EINVAL otherwise); size need not be a multiple of it. */
  aligned_alloc(alignment: number, size: number): number {
    this.checkAlignment("aligned_alloc", alignment);
    checkSize(size);
    return this.note(this.heap.heap_alloc(size, alignment));
  }

  memalign(alignment: number, size: number): number {
    this.checkAlignment("memalign", alignment);
    checkSize(size);
    return this.note(this.heap.heap_alloc(size, alignment));
  }

  /** Page-aligned block. */
  valloc(size: number): number {
    checkSize(size);
    return this.note(this.heap.heap_alloc(size, PAGE_SIZE));
  }

  /** Page-aligned block of whole pages (at least one). */
  pvalloc(size: number): number {
    checkSize(size);
    const rounded = size === 0 ? PAGE_SIZE : alignUp(size, PAGE_SIZE);
    return this.note(this.heap.heap_alloc(rounded, PAGE_SIZE));
  }

  malloc_usable_size(ptr: number): number {
    return ptr === 0 ? 0 : this.heap.heap_size(ptr);
  }

  private checkAlignment(fn: string, alignment: number): void {
    if (!isPowerOfTwo(alignment)) {
      throw new AllocatorError(
        "EINVAL",
        `${fn}: alignment ${describeValue(alignment)} is not a power of two`,
        alignment,
      );
    }
  }

  private note(ptr: number): number {
    if (ptr === 0) this.errno = ERRNO.ENOMEM;
    return ptr;
  }
}
