import { MiB, PAGE_SIZE, PHYS_ADDR_LIMIT, alignUp, isPowerOfTwo } from "./address.js";
import type { BootAllocator } from "./contracts/boot-allocator.js";
import type { MemoryMap, PhysRange } from "./contracts/memory-map.js";
import { AllocatorError, describeValue } from "./errors.js";
import { intersectRanges, mergeRanges, usableRanges } from "./memory-map.js";
import { checkCount } from "./validate.js";

export interface BumpBootAllocatorOptions {
  /** Ranges it must never hand out: kernel image, boot modules, ... (rounded out to pages). */
  reserved?: readonly PhysRange[];
  /** Where bumping starts; default 1 MiB. Memory below it is used only as a fallback. */
  start?: number;
}

/** Name given to the ranges it hands out, so they read well when later listed as reserved. */
export const BOOT_ALLOCATOR_RANGE_NAME = "boot allocator";

const DEFAULT_ALIGN = 8;

/**
 * A bump pointer over a list of sorted, disjoint ranges: it only moves forward, skipping what
 * is left of a range when a request does not fit there.
 */
class BumpCursor {
  private index = 0;
  private next: number;

  constructor(private readonly ranges: readonly PhysRange[]) {
    this.next = ranges[0]?.base ?? 0;
  }

  /** First aligned fit at or after the cursor, or 0; the cursor moves only on success. */
  take(size: number, align: number): number {
    for (let i = this.index; i < this.ranges.length; i++) {
      const range = this.ranges[i]!;
      const end = range.base + range.length;
      const from = i === this.index ? Math.max(this.next, range.base) : range.base;
      const address = alignUp(from, align);
      // Compared as a difference: `address + size` could round for sizes near 2^53.
      if (address < end && size <= end - address) {
        this.index = i;
        this.next = address + size;
        return address;
      }
    }
    return 0;
  }

  /** What is still ahead of the cursor. */
  remaining(): PhysRange[] {
    const left: PhysRange[] = [];
    for (let i = this.index; i < this.ranges.length; i++) {
      const range = this.ranges[i]!;
      const end = range.base + range.length;
      const from = i === this.index ? Math.max(this.next, range.base) : range.base;
      if (from < end) left.push({ base: from, length: end - from });
    }
    return left;
  }
}

/**
 * The kernel's bootstrap allocator: a bump pointer over usable RAM that never frees.
 *
 * It hands out only `usableRanges(map, reserved)`: whole pages of usable RAM, outside every
 * reserved range and outside frame 0, so an address it returns is never 0 and never in an E820
 * hole. Bumping starts at `start` (default 1 MiB, just where a kernel is loaded, whose image is
 * expected among `reserved` so the cursor skips it) and moves upward, skipping holes. Memory
 * below `start` is a separate fallback region, bumped from its bottom only when nothing above
 * `start` fits: low memory is scarce and wanted later for legacy DMA and real-mode trampolines,
 * so it is spent last. A failed request moves neither cursor.
 *
 * `cap()` ends it when the PMM takes over; what it handed out must stay reserved.
 */
export class BumpBootAllocator implements BootAllocator {
  /** Where bumping starts when no `start` is given: 1 MiB. */
  static readonly DEFAULT_START = MiB;

  readonly start: number;
  private readonly above: BumpCursor;
  private readonly below: BumpCursor;
  /** Handed-out blocks, in order: boot-time state, small and bounded by the calls made. */
  private readonly handedOut: PhysRange[] = [];
  private readonly reservedRanges: PhysRange[];
  private isCapped = false;

  constructor(map: MemoryMap, options: BumpBootAllocatorOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new AllocatorError(
        "EINVAL",
        `options ${describeValue(options)} is not an object`,
        options,
      );
    }
    const start = options.start ?? BumpBootAllocator.DEFAULT_START;
    if (!Number.isSafeInteger(start) || start < 0 || start > PHYS_ADDR_LIMIT) {
      throw new AllocatorError(
        "EINVAL",
        `start ${describeValue(start)} is not a physical address (0 .. 2^52)`,
        start,
      );
    }
    this.start = start;
    const usable = usableRanges(map, options.reserved ?? []);
    this.reservedRanges = [
      { base: 0, length: PAGE_SIZE, name: "frame 0" },
      ...(options.reserved ?? []).map((r) => ({ ...r })),
    ];
    this.above = new BumpCursor(
      intersectRanges(usable, [{ base: start, length: PHYS_ADDR_LIMIT - start }]),
    );
    this.below = new BumpCursor(intersectRanges(usable, [{ base: 0, length: start }]));
  }

  /**
   * Physical address of `sizeBytes` bytes aligned to `align` (a power of two, default 8; 1
   * means unaligned), or 0 when no range has room. EINVAL for a size that is not a positive
   * safe integer, an alignment that is not a power of two, or after `cap()`.
   */
  alloc(sizeBytes: number, align: number = DEFAULT_ALIGN): number {
    this.checkNotCapped();
    checkCount(sizeBytes, "size");
    if (!isPowerOfTwo(align)) {
      throw new AllocatorError(
        "EINVAL",
        `alignment ${describeValue(align)} is not a power of two`,
        align,
      );
    }
    return this.take(sizeBytes, align);
  }

  /** Physical address of `count` page-aligned 4 KiB frames, or 0. EINVAL as for `alloc`. */
  allocFrames(count: number): number {
    this.checkNotCapped();
    checkCount(count, "frame count");
    // More frames than the physical address space holds can never fit (and would lose
    // precision as a byte count).
    if (count > PHYS_ADDR_LIMIT / PAGE_SIZE) return 0;
    return this.take(count * PAGE_SIZE, PAGE_SIZE);
  }

  /** Ranges handed out so far, merged, sorted. */
  reserved(): PhysRange[] {
    return this.reservedRanges.map((r) => ({ ...r }));
  }

  allocated(): PhysRange[] {
    return mergeRanges(this.handedOut);
  }

  /** What it could still hand out: the rest above `start`, then the rest below it. */
  remaining(): PhysRange[] {
    return [...this.above.remaining(), ...this.below.remaining()];
  }

  get capped(): boolean {
    return this.isCapped;
  }

  /** Ends it: later alloc calls throw EINVAL. Returns `allocated()`; calling again is harmless. */
  cap(): PhysRange[] {
    this.isCapped = true;
    return this.allocated();
  }

  private take(size: number, align: number): number {
    const address = this.above.take(size, align) || this.below.take(size, align);
    if (address !== 0) {
      this.handedOut.push({ base: address, length: size, name: BOOT_ALLOCATOR_RANGE_NAME });
    }
    return address;
  }

  private checkNotCapped(): void {
    if (this.isCapped) {
      throw new AllocatorError(
        "EINVAL",
        "boot allocator was capped: the PMM owns memory now, allocate from it instead",
      );
    }
  }
}
