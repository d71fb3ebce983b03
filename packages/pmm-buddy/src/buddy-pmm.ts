import {
  AllocatorError,
  FrameRequest,
  MiB,
  GiB,
  PAGE_SIZE,
  ZONES,
  checkCount,
  countFrames,
  describeValue,
  framesPerZone,
  hex,
  log2Exact,
  managedRanges,
  resolveFrameRequest,
  type BootAllocator,
  type FrameConstraints,
  type MemoryMap,
  type PhysRange,
  type PhysicalMemory,
  type PhysicalMemoryManager,
  type PmmCapabilities,
  type PmmStats,
  type Zone,
  type ZoneLimits,
} from "@allockit/core";
import { BlockSearch } from "./block-search.js";
import { checkConsistency } from "./consistency-check.js";
import { FreeAreas } from "./free-areas.js";
import {
  resolveBuddyPmmOptions,
  type BuddyPmmOptions,
  type ResolvedBuddyPmmOptions,
} from "./options.js";
import { findBit, lowestSetBit, setBit, testBit, writeBits } from "./ram-bitmap.js";
import { RegionTable, planRegions } from "./region-table.js";
import { ZONE_COUNT, ZONE_NORMAL, ZoneFrames, zoneNumber } from "./zones.js";

const PAGE_SIZES = [PAGE_SIZE, 2 * MiB, 4 * MiB, GiB];

/** What exists once `init` has run. */
interface BuddyState {
  memory: PhysicalMemory;
  regions: RegionTable;
  areas: FreeAreas;
  search: BlockSearch;
}

/**
 * A binary buddy page-frame allocator: blocks of 2^order frames (order 0 .. maxOrder), free
 * lists per zone and order threaded through the free blocks in simulated RAM, buddy state in
 * bitmaps in RAM, coalescing on free. Runs that are not a power of two take the smallest block
 * that holds them and give the tail back (exact allocation), and any sub-run of allocated
 * frames can be freed on its own, down to single frames.
 */
export class BuddyPmm implements PhysicalMemoryManager {
  readonly name = "pmm-buddy";
  readonly capabilities: PmmCapabilities;
  readonly options: Readonly<ResolvedBuddyPmmOptions>;
  private readonly zones: ZoneFrames;
  /** Reused for every constrained request. */
  private readonly request = new FrameRequest();
  /** Managed frames per zone (free + allocated). */
  private readonly zoneTotals = new Float64Array(ZONE_COUNT);
  private readonly scrubOnAlloc: boolean;
  private readonly scrubOnFree: boolean;
  private state: BuddyState | undefined;

  constructor(options: BuddyPmmOptions = {}) {
    this.options = Object.freeze(resolveBuddyPmmOptions(options));
    const maxFrames = 2 ** this.options.maxOrder;
    this.capabilities = Object.freeze({
      contiguous: true,
      maxContiguousFrames: maxFrames,
      constraints: new Set<keyof FrameConstraints>(["zone", "below", "align", "boundary"]),
      pageSizes: PAGE_SIZES.filter((size) => size / PAGE_SIZE <= maxFrames),
    });
    this.zones = new ZoneFrames(this.options.zoneLimits);
    this.scrubOnAlloc = this.options.scrub === "on-alloc";
    this.scrubOnFree = this.options.scrub === "on-free";
  }

  get zoneLimits(): ZoneLimits {
    return this.options.zoneLimits;
  }

  /**
   * Sizes the metadata over the RAM the boot allocator still leaves, takes it from the boot
   * allocator, caps it, then frees every managed frame as maximal aligned blocks. Only the
   * bitmaps and the links of the few blocks below the top order get written.
   */
  init(map: MemoryMap, boot: BootAllocator, memory: PhysicalMemory): void {
    if (this.state !== undefined) {
      throw new AllocatorError("EINVAL", `${this.name} is already initialised`);
    }
    const maxOrder = this.options.maxOrder;
    const spans = planRegions(managedRanges(map, boot), maxOrder);
    const regions = new RegionTable(memory, spans, maxOrder, boot);
    if (!boot.capped) boot.cap();
    const managed = managedRanges(map, boot);
    regions.markUnmanaged(managed);
    const areas = new FreeAreas(memory, regions, this.zones, maxOrder, this.scrubOnFree);
    for (const range of managed) {
      areas.releaseRun(range.base / PAGE_SIZE, range.length / PAGE_SIZE);
    }
    const perZone = framesPerZone(managed, this.options.zoneLimits);
    ZONES.forEach((zone, index) => (this.zoneTotals[index] = perZone[zone]));
    this.state = { memory, regions, areas, search: new BlockSearch(areas) };
    if (countFrames(managed) !== this.freeFrameCount()) {
      throw new AllocatorError(
        "ECORRUPT",
        `init freed ${this.freeFrameCount()} frames of ${countFrames(managed)} managed`,
      );
    }
  }

  allocFrames(count: number, constraints?: FrameConstraints): number {
    if (count === 1 && constraints === undefined && this.state !== undefined) {
      return this.allocOneFrame(this.state);
    }
    const state = this.requireState();
    const request = resolveFrameRequest(
      this.name,
      this.capabilities,
      count,
      constraints,
      this.options.zoneLimits,
      this.request,
    );
    return this.allocRun(state, request);
  }

  freeFrames(addr: number, count: number): void {
    const state = this.state;
    if (count === 1 && state !== undefined && this.freeOneFrame(state, addr)) return;
    const checked = this.requireState();
    if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) {
      throw new AllocatorError(
        "EINVAL",
        `address ${describeValue(addr)} is not a frame-aligned physical address`,
        addr,
      );
    }
    checkCount(count, "frame count");
    const frame = addr / PAGE_SIZE;
    this.checkAllocatedRun(checked, frame, count, addr);
    this.forEachRegionSegment(checked, frame, frame + count, (r, from, to) =>
      writeBits(checked.memory, checked.regions.allocatedBitmap[r]!, from, to, false),
    );
    if (this.scrubOnFree) checked.memory.fill(addr, 0, count * PAGE_SIZE);
    checked.areas.releaseRun(frame, count);
  }

  /**
   * Takes the free frames of `range` out of circulation for good (they become unmanaged, like a
   * hole). EINVAL naming the first allocated frame of the range, changing nothing; frames that
   * are not managed RAM are left as they are.
   */
  reserve(range: PhysRange): void {
    const state = this.requireState();
    checkRange(range);
    if (range.length === 0) return;
    const start = Math.floor(range.base / PAGE_SIZE);
    const end = Math.ceil((range.base + range.length) / PAGE_SIZE);
    const { memory, regions, areas } = state;
    this.forEachRegionSegment(state, start, end, (r, from, to) => {
      const allocated = findBit(memory, regions.allocatedBitmap[r]!, from, to, true);
      if (allocated >= 0) {
        const address = (regions.baseFrame[r]! + allocated) * PAGE_SIZE;
        throw new AllocatorError(
          "EINVAL",
          `cannot reserve ${hex(range.base)}+${hex(range.length)}: frame ${hex(address)} is allocated`,
          address,
        );
      }
    });
    this.forEachRegionSegment(state, start, end, (r, from, to) => {
      const base = regions.baseFrame[r]!;
      const [low, high] = [base + from, base + to];
      for (let order = areas.maxOrder; order >= 0; order--) {
        let block = areas.nextFreeBlock(order, low, high);
        while (block >= 0) {
          const blockEnd = block + 2 ** order;
          const zone = this.zones.zoneOf(block);
          areas.remove(block, order, zone);
          const [cutFrom, cutTo] = [Math.max(block, low), Math.min(blockEnd, high)];
          writeBits(memory, regions.unmanagedBitmap[r]!, cutFrom - base, cutTo - base, true);
          this.zoneTotals[zone]! -= cutTo - cutFrom;
          if (block < cutFrom) areas.releaseRun(block, cutFrom - block);
          if (cutTo < blockEnd) areas.releaseRun(cutTo, blockEnd - cutTo);
          block = areas.nextFreeBlock(order, blockEnd, high);
        }
      }
    });
  }

  stats(): PmmStats {
    const zones = {} as PmmStats["zones"];
    let total = 0;
    let free = 0;
    ZONES.forEach((zone, index) => {
      const zoneTotal = this.zoneTotals[index]!;
      const zoneFree = this.state?.areas.freeFrames[index] ?? 0;
      zones[zone] = {
        totalFrames: zoneTotal,
        freeFrames: zoneFree,
        usedFrames: zoneTotal - zoneFree,
      };
      total += zoneTotal;
      free += zoneFree;
    });
    return {
      totalFrames: total,
      freeFrames: free,
      usedFrames: total - free,
      zones,
      metadataBytes: this.state?.regions.totalMetadataBytes ?? 0,
    };
  }

  /** Free blocks per order (index = order), of one zone or all. */
  freeBlocksPerOrder(zone?: Zone): number[] {
    const counts: number[] = new Array<number>(this.options.maxOrder + 1).fill(0);
    const areas = this.state?.areas;
    if (areas === undefined) return counts;
    for (let z = 0; z < ZONE_COUNT; z++) {
      if (zone !== undefined && zoneNumber(zone) !== z) continue;
      for (let order = 0; order < areas.orderCount; order++) {
        counts[order]! += areas.blockCounts[z * areas.orderCount + order]!;
      }
    }
    return counts;
  }

  /** True when the frame holding `addr` is in a region, neither allocated nor unmanaged. */
  isFrameFree(addr: number): boolean {
    const state = this.state;
    if (state === undefined || !Number.isSafeInteger(addr) || addr < 0) return false;
    const { memory, regions } = state;
    const frame = Math.floor(addr / PAGE_SIZE);
    const r = regions.find(frame);
    if (r < 0) return false;
    const index = frame - regions.baseFrame[r]!;
    return (
      !testBit(memory, regions.allocatedBitmap[r]!, index) &&
      !testBit(memory, regions.unmanagedBitmap[r]!, index)
    );
  }

  /** Walks every list and bitmap; ECORRUPT naming the first inconsistency. */
  check(): void {
    const state = this.state;
    if (state === undefined) return;
    checkConsistency(state.memory, state.areas, this.zoneTotals);
  }

  // ---- allocation ----

  /** The hot path: one frame, any zone (NORMAL first), from the smallest non-empty order. */
  private allocOneFrame(state: BuddyState): number {
    const areas = state.areas;
    for (let zone = ZONE_NORMAL; zone >= 0; zone--) {
      const orders = areas.nonEmptyOrders[zone]!;
      if (orders === 0) continue;
      let frame: number;
      if ((orders & 1) !== 0 && areas.maxOrder > 0) {
        frame = areas.takeFrame(zone);
      } else {
        const order = lowestSetBit(orders);
        frame = areas.takeFirst(zone, order);
        if (order > 0) areas.split(frame, order, 0, frame, zone);
        const regions = state.regions;
        const r = regions.find(frame);
        setBit(state.memory, regions.allocatedBitmap[r]!, frame - regions.baseFrame[r]!);
      }
      if (this.scrubOnAlloc) state.memory.fill(frame * PAGE_SIZE, 0, PAGE_SIZE);
      return frame * PAGE_SIZE;
    }
    return 0;
  }

  /**
   * Any request: the block order that holds `count` frames and the alignment, from the zones
   * allowed (NORMAL, DMA32, DMA without a zone). A request that spans whole zones takes a list
   * head; one cut short by `below`, or aligned beyond the largest block, searches.
   */
  private allocRun(state: BuddyState, request: FrameRequest): number {
    const { areas, search } = state;
    const count = request.count;
    const countOrder = count === 1 ? 0 : 32 - Math.clz32(count - 1);
    const alignFrames = request.align / PAGE_SIZE;
    const targetOrder = Math.max(countOrder, Math.min(log2Exact(alignFrames), areas.maxOrder));
    const targetFrames = 2 ** targetOrder;
    const stepFrames = Math.max(targetFrames, alignFrames);
    const requestLow = Math.ceil(request.low / PAGE_SIZE);
    const requestHigh = Math.floor(request.high / PAGE_SIZE);
    const onlyZone = request.zone === undefined ? -1 : zoneNumber(request.zone);
    for (let zone = ZONE_NORMAL; zone >= 0; zone--) {
      if (onlyZone >= 0 && zone !== onlyZone) continue;
      const zoneLow = this.zones.lowFrame[zone]!;
      const zoneHigh = this.zones.highFrame[zone]!;
      const low = Math.max(requestLow, zoneLow);
      const high = Math.min(requestHigh, zoneHigh);
      if (high - low < count) continue;
      let blockFrame: number;
      let blockOrder: number;
      let runFrame: number;
      if (low === zoneLow && high === zoneHigh && stepFrames === targetFrames) {
        // Natural alignment of the block covers align and boundary: any block will do.
        const orders = areas.nonEmptyOrders[zone]! & (-1 << targetOrder);
        if (orders === 0) continue;
        blockOrder = lowestSetBit(orders);
        blockFrame = areas.takeFirst(zone, blockOrder);
        runFrame = blockFrame;
      } else {
        if (!search.find(zone, targetOrder, low, high, stepFrames, request)) continue;
        blockFrame = search.blockFrame;
        blockOrder = search.blockOrder;
        runFrame = search.runFrame;
        areas.remove(blockFrame, blockOrder, zone);
      }
      areas.split(blockFrame, blockOrder, targetOrder, runFrame, zone);
      const regions = state.regions;
      const r = regions.find(runFrame);
      const index = runFrame - regions.baseFrame[r]!;
      writeBits(state.memory, regions.allocatedBitmap[r]!, index, index + count, true);
      if (count < targetFrames) areas.releaseRun(runFrame + count, targetFrames - count);
      if (this.scrubOnAlloc) state.memory.fill(runFrame * PAGE_SIZE, 0, count * PAGE_SIZE);
      return runFrame * PAGE_SIZE;
    }
    return 0;
  }

  // ---- freeing ----

  /** The hot path: frees one allocated frame; false (nothing done) when it is not one. */
  private freeOneFrame(state: BuddyState, addr: number): boolean {
    if (!(addr > 0 && addr % PAGE_SIZE === 0)) return false;
    return state.areas.freeFrame(addr / PAGE_SIZE);
  }

  /** EFAULT or EDOUBLEFREE naming the first frame of the run that is not allocated. */
  private checkAllocatedRun(state: BuddyState, frame: number, count: number, addr: number): void {
    const { memory, regions } = state;
    const end = frame + count;
    let at = frame;
    while (at < end) {
      const r = regions.find(at);
      if (r < 0) throw badFree("EFAULT", addr, count, at, "is outside managed RAM");
      const base = regions.baseFrame[r]!;
      const to = Math.min(end, regions.endFrame[r]!);
      const notAllocated = findBit(
        memory,
        regions.allocatedBitmap[r]!,
        at - base,
        to - base,
        false,
      );
      if (notAllocated >= 0) {
        const bad = base + notAllocated;
        if (testBit(memory, regions.unmanagedBitmap[r]!, notAllocated)) {
          throw badFree(
            "EFAULT",
            addr,
            count,
            bad,
            "is not managed RAM (reserved, a hole or metadata)",
          );
        }
        throw badFree("EDOUBLEFREE", addr, count, bad, "is not allocated (already free)");
      }
      at = to;
    }
  }

  /** Calls `visit(region, fromIndex, toIndex)` for each region's part of `[start, end)`. */
  private forEachRegionSegment(
    state: BuddyState,
    start: number,
    end: number,
    visit: (region: number, from: number, to: number) => void,
  ): void {
    const regions = state.regions;
    for (let r = regions.firstEndingAfter(start); r < regions.count; r++) {
      const base = regions.baseFrame[r]!;
      if (base >= end) break;
      visit(r, Math.max(start, base) - base, Math.min(end, regions.endFrame[r]!) - base);
    }
  }

  private freeFrameCount(): number {
    const free = this.state?.areas.freeFrames;
    return free === undefined ? 0 : free[0]! + free[1]! + free[2]!;
  }

  private requireState(): BuddyState {
    if (this.state === undefined) {
      throw new AllocatorError("EINVAL", `${this.name} is used before init()`);
    }
    return this.state;
  }
}

function checkRange(range: PhysRange): void {
  if (typeof range !== "object" || range === null) {
    throw new AllocatorError("EINVAL", `range ${describeValue(range)} is not an object`, range);
  }
  for (const field of ["base", "length"] as const) {
    const value = range[field];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new AllocatorError(
        "EINVAL",
        `range ${field} ${describeValue(value)} is not a non-negative safe integer`,
        value,
      );
    }
  }
}

function badFree(
  code: "EFAULT" | "EDOUBLEFREE",
  addr: number,
  count: number,
  badFrame: number,
  reason: string,
): AllocatorError {
  const bad = badFrame * PAGE_SIZE;
  return new AllocatorError(
    code,
    `freeFrames(${hex(addr)}, ${count}): frame ${hex(bad)} ${reason}`,
    bad,
  );
}
