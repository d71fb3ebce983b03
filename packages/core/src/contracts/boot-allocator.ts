import type { PhysRange } from "./memory-map.js";

/**
 * The allocator used before the PMM exists: a bump pointer that never frees. `cap()` ends it and
 * returns what it handed out, which stays reserved for good.
 */
export interface BootAllocator {
  /** Physical address of `sizeBytes` bytes aligned to `align`, or 0 when nothing fits. */
  alloc(sizeBytes: number, align?: number): number;
  /** Physical address of `count` page-aligned frames, or 0. */
  allocFrames(count: number): number;
  /** Ranges handed out so far, merged. */
  allocated(): PhysRange[];
  /**
   * Ranges it was told never to hand out: frame 0, the kernel image, boot modules. A PMM keeps
   * these, and everything `allocated()` returns, out of circulation.
   */
  reserved(): PhysRange[];
  readonly capped: boolean;
  /** Ends the allocator: later alloc calls throw. Returns the ranges it handed out. */
  cap(): PhysRange[];
}
