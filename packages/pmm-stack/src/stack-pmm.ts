import {
  AllocatorError,
  FrameRequest,
  PAGE_SIZE,
  ZONES,
  checkCount,
  countFrames,
  describeValue,
  hex,
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
  type ZoneStats,
} from "@allockit/core";
import { checkConsistency } from "./check.js";
import { FrameBitmap } from "./frame-bitmap.js";
import {
  resolveStackPmmOptions,
  type ResolvedStackPmmOptions,
  type StackPmmOptions,
} from "./options.js";
import { DESCRIPTOR_BYTES, RegionTable } from "./region-table.js";
import { reserveFrames } from "./reserve.js";
import { PmmState } from "./state.js";
import {
  ZONE_COUNT,
  ZONE_DMA,
  ZONE_NORMAL,
  ZoneFrameLimits,
  piecesWithinZones,
  zoneIndex,
} from "./zones.js";

/** Single frames only, from a chosen zone: a stack knows nothing about neighbouring frames. */
export const STACK_PMM_CAPABILITIES: PmmCapabilities = Object.freeze({
  contiguous: false,
  maxContiguousFrames: 1,
  constraints: new Set<keyof FrameConstraints>(["zone"]),
  pageSizes: Object.freeze([PAGE_SIZE]),
});

/** Region descriptors kept free for the splits `reserve` makes inside a region. */
const SPARE_REGION_SLOTS = 64;

/** Frame numbers from 2^32 on need 8-byte link-page entries. */
const FIRST_WIDE_FRAME = 2 ** 32;

/**
 * The free-stack page-frame allocator of the OSDev "Setting Up Memory Management" page: free
 * frames are linked through the free frames themselves, so the stacks cost no memory. One stack
 * per zone, filled lazily from per-region watermarks so init touches no frame; a bitmap (1 bit
 * per managed frame, 1 = allocated) catches double frees and lets `check()` audit the stacks.
 */
export class StackPmm implements PhysicalMemoryManager {
  readonly name = "pmm-stack";
  readonly capabilities = STACK_PMM_CAPABILITIES;
  readonly options: ResolvedStackPmmOptions;
  private state: PmmState | undefined = undefined;
  private metadataBytes = 0;
  private readonly scrubOnFree: boolean;
  private readonly scrubOnAlloc: boolean;
  /** Reused by every constrained request: no allocation per call. */
  private readonly request = new FrameRequest();

  constructor(options: StackPmmOptions = {}) {
    this.options = resolveStackPmmOptions(options);
    this.scrubOnFree = this.options.scrub === "on-free";
    this.scrubOnAlloc = this.options.scrub === "on-alloc";
  }

  /**
   * Takes the region table and bitmap from `boot`, caps it, then manages
   * `managedRanges(map, boot)`. Writes only the region table: every frame starts untouched.
   */
  init(map: MemoryMap, boot: BootAllocator, memory: PhysicalMemory): void {
    if (this.state !== undefined) {
      throw new AllocatorError("EINVAL", `${this.name}: init was already called`);
    }
    if (boot.capped) {
      throw new AllocatorError(
        "EINVAL",
        `${this.name}: the boot allocator is already capped, but init takes its metadata from it`,
      );
    }
    const zones = new ZoneFrameLimits(this.options.zoneLimits);
    // Sized before the metadata is taken, so an upper bound: taking it only removes frames,
    // and can split one range in two.
    const before = managedRanges(map, boot);
    const boundFrames = countFrames(before);
    const regionSlots = piecesWithinZones(before, zones).length + 1 + SPARE_REGION_SLOTS;
    const tablePages =
      boundFrames === 0 ? 0 : Math.ceil((regionSlots * DESCRIPTOR_BYTES) / PAGE_SIZE);
    const bitmapPages = Math.ceil(boundFrames / 8 / PAGE_SIZE);
    const metadataPages = tablePages + bitmapPages;
    const metadata = metadataPages === 0 ? 0 : boot.allocFrames(metadataPages);
    if (metadataPages > 0 && metadata === 0) {
      throw new AllocatorError(
        "ENOMEM",
        `${this.name}: the boot allocator has no room for ${metadataPages} metadata frames`,
        metadataPages,
      );
    }
    boot.cap();

    const managed = managedRanges(map, boot);
    const pieces = piecesWithinZones(managed, zones);
    const regions = new RegionTable(memory, metadata, tablePages * PAGE_SIZE);
    const bitmapAddress = metadata + tablePages * PAGE_SIZE;
    const bitmap = new FrameBitmap(memory, bitmapAddress, countFrames(managed));
    // Real RAM starts with garbage; zeroing never-written pages of sparse RAM costs nothing.
    memory.fill(bitmapAddress, 0, bitmapPages * PAGE_SIZE);
    let bitBase = 0;
    for (const [base, end] of pieces) {
      regions.write(regions.count++, base, end, base, bitBase);
      bitBase += end - base;
    }
    const lastEnd = pieces.length === 0 ? 0 : pieces[pieces.length - 1]![1];
    const state = new PmmState(
      memory,
      zones,
      regions,
      bitmap,
      this.options.framesPerLink,
      lastEnd > FIRST_WIDE_FRAME,
      this.scrubOnFree,
    );
    state.recount();
    this.state = state;
    this.metadataBytes = metadataPages * PAGE_SIZE;
  }

  /**
   * Address of one free frame, or 0 when none is left. Constraints: `zone` only; without one,
   * NORMAL, then DMA32, then DMA. More than one frame, or another constraint: EUNSUPPORTED.
   */
  allocFrames(count: number, constraints?: FrameConstraints): number {
    const state = this.initialized();
    if (count === 1 && constraints === undefined) return this.allocAnyZone(state);
    const request = resolveFrameRequest(
      this.name,
      this.capabilities,
      count,
      constraints,
      this.options.zoneLimits,
      this.request,
    );
    if (request.zone === undefined) return this.allocAnyZone(state);
    return this.allocFromZone(state, zoneIndex(request.zone));
  }

  /**
   * Returns `count` frames from `addr` (each must be allocated). Misaligned or malformed: EINVAL;
   * not managed RAM: EFAULT; not allocated: EDOUBLEFREE. Every frame is checked before any is freed.
   */
  freeFrames(addr: number, count: number): void {
    const state = this.initialized();
    if (!Number.isSafeInteger(addr) || addr < 0) {
      throw new AllocatorError(
        "EINVAL",
        `address ${describeValue(addr)} is not a physical address`,
        addr,
      );
    }
    if (count !== 1) checkCount(count, "frame count");
    if (addr % PAGE_SIZE !== 0) {
      throw new AllocatorError(
        "EINVAL",
        `address ${describeValue(addr)} is not 4 KiB aligned`,
        addr,
      );
    }
    const first = addr / PAGE_SIZE;
    if (count === 1) {
      const zone = state.zones.zoneOfFrame(first);
      const bit = state.regions.bitOf(first, zone);
      if (bit < 0) throw this.notManaged(first);
      const byte = state.bitmap.byteOf(bit);
      if (((byte >>> (bit & 7)) & 1) === 0) throw this.notAllocated(first);
      state.bitmap.writeByteOf(bit, byte & ~(1 << (bit & 7)));
      this.pushFreed(state, first, zone);
      return;
    }
    for (let i = 0; i < count; i++) {
      this.allocatedBitOf(state, first + i, state.zones.zoneOfFrame(first + i));
    }
    for (let i = 0; i < count; i++) {
      const zone = state.zones.zoneOfFrame(first + i);
      state.bitmap.clear(state.regions.bitOf(first + i, zone));
      this.pushFreed(state, first + i, zone);
    }
  }

  /**
   * Takes the free frames of `range` (rounded out to whole frames) out of circulation for good.
   * Frames outside managed RAM are ignored; an allocated frame in the range raises EINVAL and
   * changes nothing.
   */
  reserve(range: PhysRange): void {
    reserveFrames(this.initialized(), range);
  }

  stats(): PmmStats {
    const state = this.state;
    const zones = {} as Record<Zone, ZoneStats>;
    let totalFrames = 0;
    let freeFrames = 0;
    for (let zone = ZONE_DMA; zone < ZONE_COUNT; zone++) {
      const total = state === undefined ? 0 : state.totalFrames[zone]!;
      const free = state === undefined ? 0 : state.freeFrames(zone);
      zones[ZONES[zone]!] = { totalFrames: total, freeFrames: free, usedFrames: total - free };
      totalFrames += total;
      freeFrames += free;
    }
    return {
      totalFrames,
      freeFrames,
      usedFrames: totalFrames - freeFrames,
      zones,
      metadataBytes: this.metadataBytes,
    };
  }

  /** True when the frame holding `addr` is managed and its bitmap bit is clear. */
  isFrameFree(addr: number): boolean {
    const state = this.state;
    if (state === undefined || !Number.isSafeInteger(addr) || addr < 0) return false;
    const frame = Math.floor(addr / PAGE_SIZE);
    const bit = state.regions.bitOf(frame, state.zones.zoneOfFrame(frame));
    return bit >= 0 && !state.bitmap.isSet(bit);
  }

  /** Walks the region table, the bitmap and every stack; ECORRUPT on any inconsistency. */
  check(): void {
    if (this.state !== undefined) checkConsistency(this.state);
  }

  private allocAnyZone(state: PmmState): number {
    for (let zone = ZONE_NORMAL; zone >= ZONE_DMA; zone--) {
      if (state.stacks.frames[zone]! > 0 || state.untouchedFrames[zone]! > 0) {
        return this.allocFromZone(state, zone);
      }
    }
    return 0;
  }

  private allocFromZone(state: PmmState, zone: number): number {
    let frame: number;
    let bit: number;
    let scrub = this.scrubOnAlloc;
    state.checkedBit = -1;
    if (state.stacks.frames[zone]! > 0) {
      frame = state.stacks.pop(zone);
      bit = state.stacks.poppedBit;
    } else if (state.untouchedFrames[zone]! > 0) {
      frame = state.takeUntouched(zone);
      bit = state.untouchedBit;
      // Under on-free, handed-out frames read zero; a never-used frame holds boot-time garbage.
      scrub ||= this.scrubOnFree;
    } else {
      return 0;
    }
    const byte = state.checkedBit === bit ? state.checkedByte : state.bitmap.byteOf(bit);
    state.bitmap.writeByteOf(bit, byte | (1 << (bit & 7)));
    const addr = frame * PAGE_SIZE;
    if (scrub) state.memory.fill(addr, 0, PAGE_SIZE);
    return addr;
  }

  /** Bitmap bit of an allocated frame; EFAULT when it is not managed, EDOUBLEFREE when free. */
  private allocatedBitOf(state: PmmState, frame: number, zone: number): number {
    const bit = state.regions.bitOf(frame, zone);
    if (bit < 0) throw this.notManaged(frame);
    if (!state.bitmap.isSet(bit)) throw this.notAllocated(frame);
    return bit;
  }

  private notManaged(frame: number): AllocatorError {
    return new AllocatorError(
      "EFAULT",
      `${hex(frame * PAGE_SIZE)} is not a frame of the RAM ${this.name} manages ` +
        "(frame 0, the kernel and modules, boot allocations, reserved ranges and holes are not)",
      frame * PAGE_SIZE,
    );
  }

  private notAllocated(frame: number): AllocatorError {
    return new AllocatorError(
      "EDOUBLEFREE",
      `frame ${hex(frame * PAGE_SIZE)} is not allocated (freed twice?)`,
      frame * PAGE_SIZE,
    );
  }

  /** Puts a frame whose bit was just cleared on its zone's stack, scrubbing it if asked to. */
  private pushFreed(state: PmmState, frame: number, zone: number): void {
    if (this.scrubOnFree) state.memory.fill(frame * PAGE_SIZE, 0, PAGE_SIZE);
    state.stacks.push(zone, frame);
  }

  private initialized(): PmmState {
    if (this.state === undefined) {
      throw new AllocatorError("EINVAL", `${this.name}: init has not been called`);
    }
    return this.state;
  }
}
