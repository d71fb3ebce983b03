import {
  AllocatorError,
  FrameRequest,
  GiB,
  MiB,
  PAGE_SIZE,
  ZONES,
  checkCount,
  describeValue,
  hex,
  managedRanges,
  resolveFrameRequest,
  subtractRanges,
  type BootAllocator,
  type FrameConstraints,
  type MemoryMap,
  type PhysRange,
  type PhysicalMemory,
  type PhysicalMemoryManager,
  type PmmCapabilities,
  type PmmStats,
  type Zone,
  type ZoneStats,
} from "@allockit/core";
import { checkBitmaps } from "./check.js";
import { FrameBitmaps } from "./frame-bitmaps.js";
import { findRun } from "./run-search.js";
import { MAX_REGION_FRAMES, ZONE_COUNT, metadataBytes, planRegions } from "./layout.js";
import { resolveOptions, type BitmapPmmOptions, type ResolvedBitmapPmmOptions } from "./options.js";

/** Zones an unconstrained request tries, as indices into ZONES: NORMAL, DMA32, then DMA. */
const ZONE_PREFERENCE = Int8Array.of(2, 1, 0);

const HONOURED_CONSTRAINTS: ReadonlySet<keyof FrameConstraints> = new Set([
  "zone",
  "below",
  "align",
  "boundary",
] as const);

const FREE_COUNT_WITHOUT_FREE_FRAME =
  "belongs to a region whose free count is not zero, yet no frame is free";

/** Naturally aligned runs it hands out through `align`: 4 KiB, 2 MiB, 4 MiB, 1 GiB. */
const PAGE_SIZES: readonly number[] = Object.freeze([PAGE_SIZE, 2 * MiB, 4 * MiB, GiB]);

/**
 * Fixed, so they read the same before and after init: a run never spans regions, and a region
 * is at most MAX_REGION_FRAMES (4 TiB); a longer request is EUNSUPPORTED, one that merely finds
 * no room on this machine returns 0.
 */
const CAPABILITIES: PmmCapabilities = Object.freeze({
  contiguous: true,
  maxContiguousFrames: MAX_REGION_FRAMES,
  constraints: HONOURED_CONSTRAINTS,
  pageSizes: PAGE_SIZES,
});

/**
 * A bitmap page-frame allocator: one hierarchical bitmap per region of managed RAM, in
 * simulated RAM (see layout.ts and frame-bitmaps.ts).
 *
 * Single frames come from a next-fit search (each region remembers where the last one was
 * found; each zone remembers its last region), trying NORMAL, DMA32, then DMA. Runs with
 * constraints are first-fit: find a free frame, align it, and check the run word by word,
 * skipping past the first taken frame when it does not fit.
 */
export class BitmapPmm implements PhysicalMemoryManager {
  readonly name = "pmm-bitmap";
  private readonly options: ResolvedBitmapPmmOptions;
  readonly capabilities = CAPABILITIES;
  private bitmaps: FrameBitmaps | undefined;
  private memory: PhysicalMemory | undefined;
  /** Reused for every constrained request, so allocation creates no objects. */
  private readonly request = new FrameRequest();
  /** Per zone (ZONES order): managed and free frames, and its regions [first, end). */
  private readonly zoneTotal = new Float64Array(ZONE_COUNT);
  private readonly zoneFree = new Float64Array(ZONE_COUNT);
  private readonly zoneFirstRegion = new Int32Array(ZONE_COUNT);
  private readonly zoneEndRegion = new Int32Array(ZONE_COUNT);
  /** The region each zone's last single-frame allocation came from (next-fit across regions). */
  private readonly zoneCursor = new Int32Array(ZONE_COUNT);
  /** The region of the last free: frees tend to hit the same region in a row. */
  private lastFreedRegion = 0;

  constructor(options: BitmapPmmOptions = {}) {
    this.options = resolveOptions(options);
  }

  // ---- init ----

  init(map: MemoryMap, boot: BootAllocator, memory: PhysicalMemory): void {
    if (this.bitmaps !== undefined) {
      throw new AllocatorError("EINVAL", `${this.name} is already initialised`);
    }
    if (boot.capped) {
      throw new AllocatorError(
        "EINVAL",
        `${this.name} needs the boot allocator for its metadata, but it was already capped`,
      );
    }
    // Sized for the RAM managed before the metadata exists: a superset of what is left after.
    const planned = managedRanges(map, boot);
    const plans = planRegions(planned, this.options.zoneLimits);
    const blockBytes = Math.ceil(metadataBytes(plans) / PAGE_SIZE) * PAGE_SIZE;
    const blockAddr = boot.allocFrames(blockBytes / PAGE_SIZE);
    if (blockAddr === 0) {
      throw new AllocatorError(
        "ENOMEM",
        `${this.name} found no room for ${describeValue(blockBytes)} bytes of metadata`,
        blockBytes,
      );
    }
    const bitmaps = FrameBitmaps.format(memory, blockAddr, blockBytes, plans);
    if (!boot.capped) boot.cap();

    // Regions are in address order and zones are address bands: each zone is a run of regions.
    this.zoneFirstRegion.fill(-1);
    this.zoneEndRegion.fill(0);
    for (let region = 0; region < bitmaps.regionCount; region++) {
      const zone = bitmaps.zoneIndex[region]!;
      const frames = bitmaps.frameCount[region]!;
      if (this.zoneFirstRegion[zone] === -1) this.zoneFirstRegion[zone] = region;
      this.zoneEndRegion[zone] = region + 1;
      this.zoneTotal[zone]! += frames;
      this.zoneFree[zone]! += frames;
    }
    for (let zone = 0; zone < ZONE_COUNT; zone++) {
      if (this.zoneFirstRegion[zone] === -1) this.zoneFirstRegion[zone] = 0;
    }
    this.zoneCursor.set(this.zoneFirstRegion);
    this.bitmaps = bitmaps;
    this.memory = memory;
    // What was planned but is not managed now: the metadata block (and anything else the boot
    // allocator handed out meanwhile) stays taken, and freeing it is EFAULT.
    for (const range of subtractRanges(planned, managedRanges(map, boot))) {
      this.takeOutOfCirculation(
        bitmaps,
        range.base / PAGE_SIZE,
        (range.base + range.length) / PAGE_SIZE,
      );
    }
  }

  // ---- allocation ----

  allocFrames(count: number, constraints?: FrameConstraints): number {
    const bitmaps = this.bitmaps ?? this.notInitialised();
    if (count === 1 && constraints === undefined) return this.allocOneFrame(bitmaps);
    const request = resolveFrameRequest(
      this.name,
      this.capabilities,
      count,
      constraints,
      this.options.zoneLimits,
      this.request,
    );
    if (
      count === 1 &&
      request.zone === undefined &&
      request.low === 0 &&
      request.high === Number.MAX_SAFE_INTEGER &&
      request.align === PAGE_SIZE &&
      request.boundary === 0
    ) {
      return this.allocOneFrame(bitmaps);
    }
    return this.allocRun(bitmaps, request);
  }

  /** The hot path: one frame, no constraints. Integer math and RAM reads only. */
  private allocOneFrame(bitmaps: FrameBitmaps): number {
    const nextFit = this.options.fit === "next";
    for (let order = 0; order < ZONE_PREFERENCE.length; order++) {
      const zone = ZONE_PREFERENCE[order]!;
      if (this.zoneFree[zone] === 0) continue;
      const first = this.zoneFirstRegion[zone]!;
      const end = this.zoneEndRegion[zone]!;
      let region = nextFit ? this.zoneCursor[zone]! : first;
      for (let tried = first; tried < end; tried++) {
        if (bitmaps.freeFrames(region) !== 0) {
          const hint = nextFit ? bitmaps.nextFit(region) : 0;
          let index = bitmaps.nextFree(region, hint);
          if (index < 0 && hint !== 0) index = bitmaps.nextFree(region, 0);
          if (index < 0) bitmaps.corrupt(region, 0, 0, FREE_COUNT_WITHOUT_FREE_FRAME);
          this.zoneCursor[zone] = region;
          const after = index + 1;
          bitmaps.setNextFit(region, after === bitmaps.frameCount[region] ? 0 : after);
          return this.handOut(bitmaps, region, index, 1);
        }
        region = region + 1 === end ? first : region + 1;
      }
    }
    return 0;
  }

  private allocRun(bitmaps: FrameBitmaps, request: FrameRequest): number {
    const count = request.count;
    const lowFrame = Math.ceil(request.low / PAGE_SIZE);
    const highFrame = Math.floor(request.high / PAGE_SIZE);
    const onlyZone = request.zone === undefined ? -1 : ZONES.indexOf(request.zone);
    for (let order = 0; order < ZONE_PREFERENCE.length; order++) {
      const zone = onlyZone >= 0 ? onlyZone : ZONE_PREFERENCE[order]!;
      if (this.zoneFree[zone]! >= count) {
        for (
          let region = this.zoneFirstRegion[zone]!;
          region < this.zoneEndRegion[zone]!;
          region++
        ) {
          if (bitmaps.freeFrames(region) < count) continue;
          const index = findRun(bitmaps, region, request, lowFrame, highFrame);
          if (index >= 0) return this.handOut(bitmaps, region, index, count);
        }
      }
      if (onlyZone >= 0) break;
    }
    return 0;
  }

  private handOut(bitmaps: FrameBitmaps, region: number, index: number, count: number): number {
    if (count === 1) bitmaps.takeOne(region, index);
    else bitmaps.take(region, index, index + count);
    bitmaps.addFreeFrames(region, -count);
    this.zoneFree[bitmaps.zoneIndex[region]!]! -= count;
    const addr = (bitmaps.baseFrame[region]! + index) * PAGE_SIZE;
    if (this.options.scrub === "on-alloc") this.memory!.fill(addr, 0, count * PAGE_SIZE);
    return addr;
  }

  // ---- freeing ----

  freeFrames(addr: number, count: number): void {
    const bitmaps = this.bitmaps ?? this.notInitialised();
    if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) {
      throw new AllocatorError(
        "EINVAL",
        `freeFrames: ${describeValue(addr)} is not a page-aligned physical address`,
        addr,
      );
    }
    checkCount(count, "frame count");
    const frame = addr / PAGE_SIZE;
    let region = this.lastFreedRegion;
    const cachedBase = bitmaps.baseFrame[region];
    if (
      cachedBase === undefined ||
      frame < cachedBase ||
      frame >= cachedBase + bitmaps.frameCount[region]!
    ) {
      region = bitmaps.regionOfFrame(frame);
    }
    if (region >= 0) {
      const index = frame - bitmaps.baseFrame[region]!;
      if (count === 1) {
        if (!bitmaps.releaseOne(region, index)) this.cannotFree(bitmaps, region, index, addr, 1);
        this.lastFreedRegion = region;
        this.countReturned(bitmaps, region, index, 1);
        return;
      }
      if (index + count <= bitmaps.frameCount[region]!) {
        const bad = bitmaps.firstNotAllocated(region, index, index + count);
        if (bad >= 0) this.cannotFree(bitmaps, region, bad, addr, count);
        this.lastFreedRegion = region;
        bitmaps.release(region, index, index + count);
        this.countReturned(bitmaps, region, index, count);
        return;
      }
    }
    this.freeAcrossRegions(bitmaps, frame, count, addr);
  }

  /** A run spanning regions (adjacent ones, split at a zone limit): check all, then free. */
  private freeAcrossRegions(
    bitmaps: FrameBitmaps,
    frame: number,
    count: number,
    addr: number,
  ): void {
    const end = frame + count;
    for (let at = frame; at < end;) {
      const region = bitmaps.regionOfFrame(at);
      if (region < 0) this.notManaged(at, addr, count);
      const base = bitmaps.baseFrame[region]!;
      const to = Math.min(end - base, bitmaps.frameCount[region]!);
      const bad = bitmaps.firstNotAllocated(region, at - base, to);
      if (bad >= 0) this.cannotFree(bitmaps, region, bad, addr, count);
      at = base + to;
    }
    for (let at = frame; at < end;) {
      const region = bitmaps.regionOfFrame(at);
      const base = bitmaps.baseFrame[region]!;
      const to = Math.min(end - base, bitmaps.frameCount[region]!);
      bitmaps.release(region, at - base, to);
      this.countReturned(bitmaps, region, at - base, to - (at - base));
      at = base + to;
    }
  }

  /** Book-keeping after frames were released: counters, and scrubbing if asked. */
  private countReturned(bitmaps: FrameBitmaps, region: number, index: number, count: number): void {
    bitmaps.addFreeFrames(region, count);
    this.zoneFree[bitmaps.zoneIndex[region]!]! += count;
    if (this.options.scrub === "on-free") {
      this.memory!.fill((bitmaps.baseFrame[region]! + index) * PAGE_SIZE, 0, count * PAGE_SIZE);
    }
  }

  private cannotFree(
    bitmaps: FrameBitmaps,
    region: number,
    index: number,
    addr: number,
    count: number,
  ): never {
    const frameAddr = (bitmaps.baseFrame[region]! + index) * PAGE_SIZE;
    if (bitmaps.isUnmanaged(region, index)) {
      throw new AllocatorError(
        "EFAULT",
        `freeFrames(${hex(addr)}, ${count}): frame ${hex(frameAddr)} is reserved (PMM metadata or reserve()), not allocated RAM`,
        addr,
      );
    }
    throw new AllocatorError(
      "EDOUBLEFREE",
      `freeFrames(${hex(addr)}, ${count}): frame ${hex(frameAddr)} is already free`,
      addr,
    );
  }

  private notManaged(frame: number, addr: number, count: number): never {
    throw new AllocatorError(
      "EFAULT",
      `freeFrames(${hex(addr)}, ${count}): frame ${hex(frame * PAGE_SIZE)} is not managed RAM ` +
        `(frame 0, the kernel, a boot allocation, a hole, reserved, or beyond RAM)`,
      addr,
    );
  }

  // ---- reserving ----

  reserve(range: PhysRange): void {
    const bitmaps = this.bitmaps ?? this.notInitialised();
    if (
      typeof range !== "object" ||
      range === null ||
      !Number.isSafeInteger(range.base) ||
      !Number.isSafeInteger(range.length) ||
      range.base < 0 ||
      range.length < 0 ||
      !Number.isSafeInteger(range.base + range.length)
    ) {
      throw new AllocatorError(
        "EINVAL",
        `reserve: range ${describeValue(range)} is not a physical range`,
        range,
      );
    }
    if (range.length === 0) return;
    const fromFrame = Math.floor(range.base / PAGE_SIZE);
    const toFrame = Math.ceil((range.base + range.length) / PAGE_SIZE);
    for (
      let region = bitmaps.firstRegionEndingAbove(fromFrame);
      region < bitmaps.regionCount && bitmaps.baseFrame[region]! < toFrame;
      region++
    ) {
      const base = bitmaps.baseFrame[region]!;
      const from = Math.max(0, fromFrame - base);
      const to = Math.min(bitmaps.frameCount[region]!, toFrame - base);
      const allocated = bitmaps.firstAllocated(region, from, to);
      if (allocated >= 0) {
        throw new AllocatorError(
          "EINVAL",
          `reserve(${describeValue(range)}): frame ${hex((base + allocated) * PAGE_SIZE)} is allocated; free it first`,
          range,
        );
      }
    }
    this.takeOutOfCirculation(bitmaps, fromFrame, toFrame);
  }

  /** Marks the free frames of `[fromFrame, toFrame)` unmanaged, for good. */
  private takeOutOfCirculation(bitmaps: FrameBitmaps, fromFrame: number, toFrame: number): void {
    for (
      let region = bitmaps.firstRegionEndingAbove(fromFrame);
      region < bitmaps.regionCount && bitmaps.baseFrame[region]! < toFrame;
      region++
    ) {
      const base = bitmaps.baseFrame[region]!;
      const from = Math.max(0, fromFrame - base);
      const to = Math.min(bitmaps.frameCount[region]!, toFrame - base);
      const taken = bitmaps.takeUnmanaged(region, from, to);
      if (taken === 0) continue;
      bitmaps.addFreeFrames(region, -taken);
      bitmaps.addUnmanagedFrames(region, taken);
      const zone = bitmaps.zoneIndex[region]!;
      this.zoneFree[zone]! -= taken;
      this.zoneTotal[zone]! -= taken;
    }
  }

  // ---- introspection ----

  stats(): PmmStats {
    const zones = {} as Record<Zone, ZoneStats>;
    let totalFrames = 0;
    let freeFrames = 0;
    ZONES.forEach((name, zone) => {
      const total = this.zoneTotal[zone]!;
      const free = this.zoneFree[zone]!;
      zones[name] = { totalFrames: total, freeFrames: free, usedFrames: total - free };
      totalFrames += total;
      freeFrames += free;
    });
    return {
      totalFrames,
      freeFrames,
      usedFrames: totalFrames - freeFrames,
      zones,
      metadataBytes: this.bitmaps?.metadataBytes ?? 0,
    };
  }

  /** True when the frame holding `addr` lies in a region and its level 0 bit is clear. */
  isFrameFree(addr: number): boolean {
    const bitmaps = this.bitmaps;
    if (bitmaps === undefined || !Number.isSafeInteger(addr) || addr < 0) return false;
    const frame = Math.floor(addr / PAGE_SIZE);
    const region = bitmaps.regionOfFrame(frame);
    if (region < 0) return false;
    const index = frame - bitmaps.baseFrame[region]!;
    // Unmanaged frames have their level 0 bit set too, so a clear bit means free.
    return (bitmaps.readWord(region, 0, index >>> 5) & (1 << (index & 31))) === 0;
  }

  check(): void {
    if (this.bitmaps === undefined || this.memory === undefined) return;
    checkBitmaps(this.bitmaps, this.memory, this.zoneTotal, this.zoneFree);
  }

  private notInitialised(): never {
    throw new AllocatorError("EINVAL", `${this.name} is used before init()`);
  }
}
