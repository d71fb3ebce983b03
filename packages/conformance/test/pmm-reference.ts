import {
  AllocatorError,
  DEFAULT_ZONE_LIMITS,
  FrameRequest,
  MiB,
  PAGE_SIZE,
  ZONES,
  describeValue,
  framesPerZone,
  hex,
  managedRanges,
  resolveFrameRequest,
  zoneBounds,
} from "@allockit/core";
import type {
  BootAllocator,
  FrameConstraints,
  MemoryMap,
  PhysRange,
  PhysicalMemory,
  PhysicalMemoryManager,
  PmmCapabilities,
  PmmStats,
  Zone,
} from "@allockit/core";

/** Zones tried for a request without a zone: NORMAL first, keeping low memory for DMA. */
const PREFERENCE: readonly Zone[] = ["NORMAL", "DMA32", "DMA"];
const HEADER_MAGIC = 0x504d4d21;

export interface ReferencePmmOptions {
  contiguous?: boolean;
  constraints?: readonly (keyof FrameConstraints)[];
}

interface FreeSpan {
  start: number;
  end: number;
}

/**
 * A small, obviously correct PMM for the suite's own tests: free memory as a sorted list of
 * spans, allocated frames in a Set (JS-side bookkeeping is fine in a test), a one-frame header
 * from the boot allocator holding a magic number. First fit, zone by zone, NORMAL first.
 */
export class ReferencePmm implements PhysicalMemoryManager {
  readonly name: string = "reference";
  readonly capabilities: PmmCapabilities;
  protected memory: PhysicalMemory | undefined;
  protected header = 0;
  /** Free memory, sorted, disjoint, non-touching. */
  protected free: FreeSpan[] = [];
  protected readonly allocated = new Set<number>();
  protected managed: PhysRange[] = [];
  protected freeCount = 0;
  protected reservedCount = 0;
  protected readonly zoneFree: Record<Zone, number> = { DMA: 0, DMA32: 0, NORMAL: 0 };
  protected zoneTotal: Record<Zone, number> = { DMA: 0, DMA32: 0, NORMAL: 0 };
  protected readonly zoneReserved: Record<Zone, number> = { DMA: 0, DMA32: 0, NORMAL: 0 };
  private readonly request = new FrameRequest();

  constructor(options: ReferencePmmOptions = {}) {
    const contiguous = options.contiguous ?? true;
    this.capabilities = {
      contiguous,
      maxContiguousFrames: contiguous ? 1 << 18 : 1,
      constraints: new Set(options.constraints ?? ["zone", "below", "align", "boundary"]),
      pageSizes: contiguous ? [PAGE_SIZE, 2 * MiB] : [PAGE_SIZE],
    };
  }

  init(map: MemoryMap, boot: BootAllocator, memory: PhysicalMemory): void {
    this.memory = memory;
    this.header = boot.allocFrames(1);
    if (this.header === 0) throw new AllocatorError("ENOMEM", "no frame for the PMM header");
    memory.write32(this.header, HEADER_MAGIC);
    this.capBoot(boot);
    this.managed = this.managedRanges(map, boot);
    this.free = this.managed.map((r) => ({ start: r.base, end: r.base + r.length }));
    this.zoneTotal = framesPerZone(this.managed);
    for (const zone of ZONES) this.zoneFree[zone] = this.zoneTotal[zone];
    this.freeCount = this.free.reduce((n, s) => n + (s.end - s.start) / PAGE_SIZE, 0);
  }

  /** Overridden by broken PMMs that forget it. */
  protected capBoot(boot: BootAllocator): void {
    boot.cap();
  }

  /** Overridden by broken PMMs that manage the wrong frames. */
  protected managedRanges(map: MemoryMap, boot: BootAllocator): PhysRange[] {
    return managedRanges(map, boot);
  }

  allocFrames(count: number, constraints?: FrameConstraints): number {
    const req = resolveFrameRequest(
      this.name,
      this.capabilities,
      count,
      constraints,
      DEFAULT_ZONE_LIMITS,
      this.request,
    );
    const zones = req.zone === undefined ? PREFERENCE : [req.zone];
    for (const zone of zones) {
      const [low, high] = zoneBounds(zone);
      const start = this.search(req, Math.max(low, req.low), Math.min(high, req.high));
      if (start !== 0) return this.take(start, count);
    }
    if (req.zone === undefined && count > 1) {
      // A run may straddle zones when none was asked for.
      const start = this.search(req, req.low, req.high);
      if (start !== 0) return this.take(start, count);
    }
    return 0;
  }

  /** First fit for `req` inside `[low, high)`, or 0. */
  protected search(req: FrameRequest, low: number, high: number): number {
    const bytes = req.count * PAGE_SIZE;
    let i = this.firstSpanEndingAfter(low);
    for (; i < this.free.length; i++) {
      const span = this.free[i]!;
      if (span.start >= high) break;
      const end = Math.min(span.end, high);
      let start = alignUp(Math.max(span.start, low), req.align);
      while (start + bytes <= end) {
        if (req.fits(start)) return start;
        // Only the boundary can fail here: move to the next multiple of it.
        start = alignUp(alignUp(start + 1, req.boundary), req.align);
      }
    }
    return 0;
  }

  /** True when the frame holding `addr` lies in a free span. */
  isFrameFree(addr: number): boolean {
    if (!Number.isFinite(addr) || addr < 0) return false;
    const frame = Math.floor(addr / PAGE_SIZE) * PAGE_SIZE;
    const span = this.free[this.firstSpanEndingAfter(frame)];
    return span !== undefined && span.start <= frame;
  }

  private firstSpanEndingAfter(addr: number): number {
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.free[mid]!.end <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Removes `[start, start + count frames)` from the free spans and marks it allocated. */
  protected take(start: number, count: number): number {
    this.carve(start, start + count * PAGE_SIZE);
    for (let i = 0; i < count; i++) this.allocated.add(start + i * PAGE_SIZE);
    return start;
  }

  /** Removes a range known to be free from the free spans, with the counters. */
  protected carve(start: number, end: number): void {
    const i = this.firstSpanEndingAfter(start);
    const span = this.free[i]!;
    const pieces: FreeSpan[] = [];
    if (span.start < start) pieces.push({ start: span.start, end: start });
    if (end < span.end) pieces.push({ start: end, end: span.end });
    this.free.splice(i, 1, ...pieces);
    this.count(start, end, -1, this.zoneFree);
    this.freeCount -= (end - start) / PAGE_SIZE;
  }

  protected count(start: number, end: number, sign: 1 | -1, into: Record<Zone, number>): void {
    const byZone = framesPerZone([{ base: start, length: end - start }]);
    for (const zone of ZONES) into[zone] += sign * byZone[zone];
  }

  freeFrames(addr: number, count: number): void {
    if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) {
      throw new AllocatorError(
        "EINVAL",
        `address ${describeValue(addr)} is not a frame address`,
        addr,
      );
    }
    if (!Number.isSafeInteger(count) || count <= 0) {
      throw new AllocatorError(
        "EINVAL",
        `frame count ${describeValue(count)} is not a positive integer`,
        count,
      );
    }
    for (let i = 0; i < count; i++) {
      const frame = addr + i * PAGE_SIZE;
      if (this.allocated.has(frame)) continue;
      if (this.isManaged(frame)) {
        throw new AllocatorError(
          "EDOUBLEFREE",
          `frame ${hex(frame)} of freeFrames(${hex(addr)}, ${count}) is not allocated`,
          addr,
        );
      }
      throw new AllocatorError(
        "EFAULT",
        `frame ${hex(frame)} of freeFrames(${hex(addr)}, ${count}) is not RAM this PMM manages`,
        addr,
      );
    }
    this.release(addr, count);
  }

  /** Gives allocated frames back (checked by freeFrames). */
  protected release(addr: number, count: number): void {
    for (let i = 0; i < count; i++) this.allocated.delete(addr + i * PAGE_SIZE);
    this.insertFree(addr, addr + count * PAGE_SIZE);
  }

  protected insertFree(start: number, end: number): void {
    const i = this.firstSpanEndingAfter(start);
    const before = this.free[i - 1];
    const after = this.free[i];
    const span = { start, end };
    if (before !== undefined && before.end === start) {
      span.start = before.start;
      this.free.splice(i - 1, 1);
      if (after !== undefined && after.start === end) {
        span.end = after.end;
        this.free.splice(i - 1, 1, span);
      } else this.free.splice(i - 1, 0, span);
    } else if (after !== undefined && after.start === end) {
      after.start = start;
    } else this.free.splice(i, 0, span);
    this.count(start, end, 1, this.zoneFree);
    this.freeCount += (end - start) / PAGE_SIZE;
  }

  protected isManaged(frame: number): boolean {
    return this.managed.some((r) => frame >= r.base && frame < r.base + r.length);
  }

  reserve(range: PhysRange): void {
    const start = range.base - (range.base % PAGE_SIZE);
    const end = Math.ceil((range.base + range.length) / PAGE_SIZE) * PAGE_SIZE;
    for (let frame = start; frame < end; frame += PAGE_SIZE) {
      if (this.allocated.has(frame)) {
        throw new AllocatorError("EINVAL", `cannot reserve allocated frame ${hex(frame)}`, frame);
      }
    }
    for (let frame = start; frame < end; frame += PAGE_SIZE) {
      const i = this.firstSpanEndingAfter(frame);
      const span = this.free[i];
      if (span === undefined || span.start > frame) continue;
      this.carve(frame, frame + PAGE_SIZE);
      this.count(frame, frame + PAGE_SIZE, 1, this.zoneReserved);
      this.reservedCount++;
    }
  }

  stats(): PmmStats {
    const total = this.freeCount + this.allocated.size + this.reservedCount;
    const zones = {} as Record<
      Zone,
      { totalFrames: number; freeFrames: number; usedFrames: number }
    >;
    for (const zone of ZONES) {
      zones[zone] = {
        totalFrames: this.zoneTotal[zone],
        freeFrames: this.zoneFree[zone],
        usedFrames: this.zoneTotal[zone] - this.zoneFree[zone],
      };
    }
    return {
      totalFrames: total,
      freeFrames: this.freeCount,
      usedFrames: total - this.freeCount,
      zones,
      metadataBytes: PAGE_SIZE,
    };
  }

  check(): void {
    if (this.memory === undefined) return;
    if (this.memory.read32(this.header) >>> 0 !== HEADER_MAGIC) {
      throw new AllocatorError("ECORRUPT", `PMM header at ${hex(this.header)} lost its magic`);
    }
    let frames = 0;
    for (let i = 0; i < this.free.length; i++) {
      const span = this.free[i]!;
      if (span.end <= span.start || (i > 0 && this.free[i - 1]!.end >= span.start)) {
        throw new AllocatorError(
          "ECORRUPT",
          `free span ${i} [${hex(span.start)}, ${hex(span.end)}) is out of order`,
        );
      }
      frames += (span.end - span.start) / PAGE_SIZE;
    }
    if (frames !== this.freeCount) {
      throw new AllocatorError(
        "ECORRUPT",
        `free spans hold ${frames} frames, the counter says ${this.freeCount}`,
      );
    }
  }
}

function alignUp(value: number, align: number): number {
  if (align <= 1) return value;
  const rest = value % align;
  return rest === 0 ? value : value + align - rest;
}
