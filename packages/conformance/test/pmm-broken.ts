import { PAGE_SIZE, isPowerOfTwo, managedRanges } from "@allockit/core";
import type {
  BootAllocator,
  FrameConstraints,
  MemoryMap,
  PhysRange,
  PhysicalMemory,
  PmmStats,
} from "@allockit/core";
import { ReferencePmm } from "./pmm-reference.js";

/**
 * Deliberately broken PMMs, each the reference PMM with one bug, so the tests can show that
 * the suite catches the bug and names it.
 */

/** Drops `below` although it declares it. */
export class IgnoresBelowPmm extends ReferencePmm {
  override readonly name = "ignores-below";
  override allocFrames(count: number, constraints?: FrameConstraints): number {
    if (constraints?.below === undefined) return super.allocFrames(count, constraints);
    const { below: _below, ...rest } = constraints;
    return super.allocFrames(count, rest);
  }
}

/** Drops `zone` although it declares it. */
export class IgnoresZonePmm extends ReferencePmm {
  override readonly name = "ignores-zone";
  override allocFrames(count: number, constraints?: FrameConstraints): number {
    if (constraints?.zone === undefined) return super.allocFrames(count, constraints);
    const { zone: _zone, ...rest } = constraints;
    return super.allocFrames(count, rest);
  }
}

/** Drops `align` although it declares it. */
export class IgnoresAlignPmm extends ReferencePmm {
  override readonly name = "ignores-align";
  override allocFrames(count: number, constraints?: FrameConstraints): number {
    if (constraints?.align === undefined) return super.allocFrames(count, constraints);
    const { align: _align, ...rest } = constraints;
    return super.allocFrames(count, rest);
  }
}

/** Every fifth single-frame request hands out the previous frame again. */
export class DoubleHandsPmm extends ReferencePmm {
  override readonly name = "double-hands";
  private calls = 0;
  private last = 0;
  override allocFrames(count: number, constraints?: FrameConstraints): number {
    this.calls++;
    if (count === 1 && this.last !== 0 && this.allocated.has(this.last) && this.calls % 5 === 0) {
      return this.last;
    }
    const addr = super.allocFrames(count, constraints);
    if (count === 1 && addr !== 0) this.last = addr;
    return addr;
  }
}

/** Keeps the last frame of every freed run: it is never handed out again. */
export class LosesFrameOnFreePmm extends ReferencePmm {
  override readonly name = "loses-frame-on-free";
  protected override release(addr: number, count: number): void {
    if (count > 1) super.release(addr, count - 1);
    // The single frame (or the run's last frame) stays marked allocated: lost for good.
  }
}

/** Every third single-frame request gets a frame of the kernel image (once). */
export class HandsOutKernelPmm extends ReferencePmm {
  override readonly name = "hands-out-kernel";
  private kernelFrame = 0;
  private calls = 0;
  override init(map: MemoryMap, boot: BootAllocator, memory: PhysicalMemory): void {
    super.init(map, boot, memory);
    this.kernelFrame = boot.reserved().find((r) => r.name === "kernel")?.base ?? 0;
  }
  override allocFrames(count: number, constraints?: FrameConstraints): number {
    if (count === 1 && this.kernelFrame !== 0 && ++this.calls % 3 === 0) {
      const frame = this.kernelFrame;
      this.kernelFrame = 0;
      return frame;
    }
    return super.allocFrames(count, constraints);
  }
}

/**
 * Manages frame 0 as if it were RAM and hides it from stats(): a request served from it
 * returns 0 (looks like out of memory) while using up frames.
 */
export class HandsOutFrameZeroPmm extends ReferencePmm {
  override readonly name = "hands-out-frame-0";
  // Hides frame 0 here too, as its stats do, so what shows is the 0 it hands out.
  override isFrameFree(addr: number): boolean {
    return addr >= PAGE_SIZE && super.isFrameFree(addr);
  }
  protected override managedRanges(map: MemoryMap, boot: BootAllocator): PhysRange[] {
    const ranges = managedRanges(map, boot).map((r) => ({ ...r }));
    if (ranges[0]?.base === PAGE_SIZE) {
      ranges[0].base = 0;
      ranges[0].length += PAGE_SIZE;
    } else ranges.unshift({ base: 0, length: PAGE_SIZE });
    return ranges;
  }
  override stats(): PmmStats {
    const stats = super.stats();
    const zeroFree = this.free[0]?.start === 0 ? 1 : 0;
    const hide = (z: { totalFrames: number; freeFrames: number; usedFrames: number }) => ({
      totalFrames: z.totalFrames - 1,
      freeFrames: z.freeFrames - zeroFree,
      usedFrames: z.usedFrames - 1 + zeroFree,
    });
    return {
      ...hide(stats),
      zones: { ...stats.zones, DMA: hide(stats.zones.DMA) },
      metadataBytes: stats.metadataBytes,
    };
  }
}

/** Lets a free of frames it did not hand out pass silently. */
export class SilentDoubleFreePmm extends ReferencePmm {
  override readonly name = "silent-double-free";
  override freeFrames(addr: number, count: number): void {
    for (let i = 0; i < count; i++) if (!this.allocated.has(addr + i * PAGE_SIZE)) return;
    super.freeFrames(addr, count);
  }
}

/** Reports one free frame too many. */
export class WrongFreeCountPmm extends ReferencePmm {
  override readonly name = "wrong-free-count";
  override stats(): PmmStats {
    const stats = super.stats();
    return { ...stats, freeFrames: stats.freeFrames + 1, totalFrames: stats.totalFrames + 1 };
  }
}

/** Writes a "next" link past the end of a freed run, into a frame that may be allocated. */
export class WritesPastRunPmm extends ReferencePmm {
  override readonly name = "writes-past-run";
  protected override release(addr: number, count: number): void {
    super.release(addr, count);
    const next = addr + count * PAGE_SIZE;
    if (this.allocated.has(next)) this.memory!.write32(next, 0xdeadbeef);
  }
}

/** Declares only `zone` but accepts every constraint, silently ignoring them. */
export class SilentlyIgnoresUndeclaredPmm extends ReferencePmm {
  override readonly name = "ignores-undeclared";
  constructor() {
    super({ constraints: ["zone"] });
  }
  override allocFrames(count: number, constraints?: FrameConstraints): number {
    if (typeof constraints !== "object" || constraints === null) {
      return super.allocFrames(count, constraints);
    }
    const { below: _below, align: _align, boundary: _boundary, ...kept } = constraints;
    return super.allocFrames(count, kept);
  }
}

/** Reserves a range even when it holds an allocated frame. */
export class ReservesAllocatedPmm extends ReferencePmm {
  override readonly name = "reserves-allocated";
  override reserve(range: PhysRange): void {
    const start = range.base - (range.base % PAGE_SIZE);
    const end = Math.ceil((range.base + range.length) / PAGE_SIZE) * PAGE_SIZE;
    for (let frame = start; frame < end; frame += PAGE_SIZE) this.allocated.delete(frame);
    super.reserve(range);
  }
}

/** Without a zone, takes NORMAL only: returns 0 while DMA32 or DMA still have frames. */
export class NoZoneFallbackPmm extends ReferencePmm {
  override readonly name = "no-zone-fallback";
  override allocFrames(count: number, constraints?: FrameConstraints): number {
    if (constraints?.zone !== undefined || count > 1) return super.allocFrames(count, constraints);
    return super.allocFrames(count, { ...constraints, zone: "NORMAL" });
  }
}

/** Writes into every managed frame at init (the first 64 Ki of them, to stay cheap). */
export class TouchesEveryFramePmm extends ReferencePmm {
  override readonly name = "touches-every-frame";
  override init(map: MemoryMap, boot: BootAllocator, memory: PhysicalMemory): void {
    super.init(map, boot, memory);
    let written = 0;
    for (const span of this.free) {
      for (let frame = span.start; frame < span.end && written < 65536; frame += PAGE_SIZE) {
        memory.write32(frame, 0);
        written++;
      }
    }
  }
}

/** Never caps the boot allocator (the suite caps it and says so in its report). */
export class LeavesBootUncappedPmm extends ReferencePmm {
  override readonly name = "leaves-boot-uncapped";
  protected override capBoot(): void {}
}

/** Drops `boundary` (after checking it) although it declares it. */
export class IgnoresBoundaryPmm extends ReferencePmm {
  override readonly name = "ignores-boundary";
  override allocFrames(count: number, constraints?: FrameConstraints): number {
    const boundary = constraints?.boundary;
    const wellFormed =
      boundary !== undefined && isPowerOfTwo(boundary) && boundary >= count * PAGE_SIZE;
    if (!wellFormed) return super.allocFrames(count, constraints);
    const { boundary: _boundary, ...rest } = constraints!;
    return super.allocFrames(count, rest);
  }
}

/** reserve() that takes nothing out of circulation. */
export class ReserveDoesNothingPmm extends ReferencePmm {
  override readonly name = "reserve-does-nothing";
  override reserve(): void {}
}

/** Correct but slow: every allocation busy-waits a millisecond. */
export class SlowPmm extends ReferencePmm {
  override readonly name = "slow";
  override allocFrames(count: number, constraints?: FrameConstraints): number {
    const until = Date.now() + 1;
    while (Date.now() < until) {
      // waiting on purpose
    }
    return super.allocFrames(count, constraints);
  }
}

/** isFrameFree answers from a copy of the free list taken at init, so it never changes. */
export class StaleFrameQueryPmm extends ReferencePmm {
  override readonly name = "stale-frame-query";
  private snapshot: { start: number; end: number }[] | undefined;
  override isFrameFree(addr: number): boolean {
    this.snapshot ??= this.free.map((span) => ({ ...span }));
    const frame = Math.floor(addr / PAGE_SIZE) * PAGE_SIZE;
    return this.snapshot.some((span) => span.start <= frame && frame < span.end);
  }
}
