import {
  AllocatorError,
  PAGE_SIZE,
  hex,
  pagesFor,
  type BootAllocator,
  type PhysRange,
  type PhysicalMemory,
} from "@allockit/core";
import { bitmapBytes, writeBits } from "./ram-bitmap.js";

/**
 * Regions: the spans of frame numbers the buddy metadata covers. Each is aligned to the largest
 * block (so a block and its buddy always share a region) and has its own bitmaps in RAM:
 *
 * - one free bitmap per order: bit i of order k is set when block i (frames i·2^k ..) is free
 *   and on the order-k free list of its zone;
 * - an allocated bitmap, one bit per frame, set while the frame is handed out;
 * - an unmanaged bitmap, one bit per frame, set for frames that are not managed RAM (holes, the
 *   kernel, boot allocations, frames `reserve` took out), so a free of them is recognised.
 *
 * Managed ranges far apart get separate regions, so a hole costs no metadata; nearby ones share
 * one. The table itself is also kept in RAM (32-byte records) and mirrored here in typed arrays
 * for the hot paths; `check()` compares the two.
 */

/** Ranges closer than this share a region: their gap costs less metadata than a new region. */
const MERGE_GAP_FRAMES = (256 * 1024 * 1024) / PAGE_SIZE;
/** Keeps frame indices inside a region below 2^31, so bit math stays in 32-bit integers. */
const MAX_REGION_FRAMES = 2 ** 30;
const RECORD_BYTES = 32;
const TWO_POW_32 = 2 ** 32;

/** Where a region's bitmaps sit inside its metadata block, in bytes from its start. */
interface BitmapLayout {
  freeOffsets: number[];
  allocatedOffset: number;
  unmanagedOffset: number;
  bytes: number;
}

function layoutBitmaps(frames: number, maxOrder: number): BitmapLayout {
  const freeOffsets: number[] = [];
  let bytes = 0;
  for (let order = 0; order <= maxOrder; order++) {
    freeOffsets.push(bytes);
    bytes += bitmapBytes(frames / 2 ** order);
  }
  const allocatedOffset = bytes;
  bytes += bitmapBytes(frames);
  const unmanagedOffset = bytes;
  bytes += bitmapBytes(frames);
  return { freeOffsets, allocatedOffset, unmanagedOffset, bytes };
}

/**
 * Frame spans `[start, end)` covering `ranges` (sorted, page-aligned), aligned out to blocks of
 * 2^maxOrder frames, nearby ones merged, none longer than MAX_REGION_FRAMES.
 */
export function planRegions(
  ranges: readonly PhysRange[],
  maxOrder: number,
): Array<[number, number]> {
  const block = 2 ** maxOrder;
  const spans: Array<[number, number]> = [];
  for (const range of ranges) {
    if (range.length === 0) continue;
    const start = Math.floor(range.base / PAGE_SIZE / block) * block;
    const end = Math.ceil((range.base + range.length) / PAGE_SIZE / block) * block;
    const last = spans[spans.length - 1];
    if (last !== undefined && start <= last[1] + MERGE_GAP_FRAMES) last[1] = Math.max(last[1], end);
    else spans.push([start, end]);
  }
  const regions: Array<[number, number]> = [];
  for (const [start, end] of spans) {
    for (let at = start; at < end; at += MAX_REGION_FRAMES) {
      regions.push([at, Math.min(end, at + MAX_REGION_FRAMES)]);
    }
  }
  return regions;
}

/**
 * A packed array of `length` zeros. The hot paths read frame numbers and bitmap addresses from
 * plain arrays rather than Float64Arrays: V8 then knows them as small integers (while they are
 * below 2^31) and keeps the address arithmetic in 32-bit integers instead of doubles.
 */
export function zeros(length: number): number[] {
  return Array.from({ length }, () => 0);
}

export class RegionTable {
  readonly count: number;
  readonly orderCount: number;
  // Plain arrays (see `zeros`); the rest are Float64Arrays.
  /** First frame of each region. */
  readonly baseFrame: number[];
  /** One past the last frame of each region. */
  readonly endFrame: number[];
  /** Address of the order-k free bitmap of region r at `[r * orderCount + k]`. */
  readonly freeBitmap: number[];
  readonly allocatedBitmap: number[];
  readonly unmanagedBitmap: number[];
  /** Each region's metadata block (address, bytes). */
  readonly metadataAddress: Float64Array;
  readonly metadataBytes: Float64Array;
  /** Where the table's records live in RAM. */
  readonly tableAddress: number;
  /** Bytes of RAM taken from the boot allocator for all of it, whole pages. */
  readonly totalMetadataBytes: number;
  private lastHit = 0;

  /** Takes the metadata for `spans` from the boot allocator; ENOMEM when it runs out. */
  constructor(
    private readonly memory: PhysicalMemory,
    spans: ReadonlyArray<readonly [number, number]>,
    maxOrder: number,
    boot: BootAllocator,
  ) {
    this.count = spans.length;
    this.orderCount = maxOrder + 1;
    this.baseFrame = spans.map((s) => s[0]);
    this.endFrame = spans.map((s) => s[1]);
    this.freeBitmap = zeros(this.count * this.orderCount);
    this.allocatedBitmap = zeros(this.count);
    this.unmanagedBitmap = zeros(this.count);
    this.metadataAddress = new Float64Array(this.count);
    this.metadataBytes = new Float64Array(this.count);
    let total = 0;
    for (let r = 0; r < this.count; r++) {
      const layout = layoutBitmaps(this.endFrame[r]! - this.baseFrame[r]!, maxOrder);
      const pages = pagesFor(layout.bytes);
      const address = takeFromBoot(boot, pages, `bitmaps of region ${r}`);
      memory.fill(address, 0, layout.bytes);
      this.metadataAddress[r] = address;
      this.metadataBytes[r] = layout.bytes;
      for (let order = 0; order <= maxOrder; order++) {
        this.freeBitmap[r * this.orderCount + order] = address + layout.freeOffsets[order]!;
      }
      this.allocatedBitmap[r] = address + layout.allocatedOffset;
      this.unmanagedBitmap[r] = address + layout.unmanagedOffset;
      total += pages * PAGE_SIZE;
    }
    const tablePages = pagesFor(Math.max(1, this.count * RECORD_BYTES));
    this.tableAddress = takeFromBoot(boot, tablePages, "region table");
    this.totalMetadataBytes = total + tablePages * PAGE_SIZE;
    for (let r = 0; r < this.count; r++) {
      const [base, frames, address, bytes] = this.expectedRecord(r);
      const at = this.tableAddress + r * RECORD_BYTES;
      writeU64(memory, at, base);
      writeU64(memory, at + 8, frames);
      writeU64(memory, at + 16, address);
      writeU64(memory, at + 24, bytes);
    }
  }

  /** Region holding `frame`, or -1. */
  find(frame: number): number {
    const hit = this.lastHit;
    if (hit < this.count && frame >= this.baseFrame[hit]! && frame < this.endFrame[hit]!)
      return hit;
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (frame < this.baseFrame[mid]!) high = mid - 1;
      else if (frame >= this.endFrame[mid]!) low = mid + 1;
      else {
        this.lastHit = mid;
        return mid;
      }
    }
    return -1;
  }

  /** First region ending after `frame` (the one holding it, or the next), or `count`. */
  firstEndingAfter(frame: number): number {
    let r = 0;
    while (r < this.count && this.endFrame[r]! <= frame) r++;
    return r;
  }

  /** Sets the unmanaged bit of every frame of every region that `managed` (sorted) leaves out. */
  markUnmanaged(managed: readonly PhysRange[]): void {
    let first = 0;
    for (let r = 0; r < this.count; r++) {
      const base = this.baseFrame[r]!;
      const end = this.endFrame[r]!;
      const bitmap = this.unmanagedBitmap[r]!;
      let cursor = base;
      for (let i = first; i < managed.length; i++) {
        const from = managed[i]!.base / PAGE_SIZE;
        const to = from + managed[i]!.length / PAGE_SIZE;
        if (from >= end) break;
        if (to <= base) {
          first = i + 1;
          continue;
        }
        if (from > cursor) writeBits(this.memory, bitmap, cursor - base, from - base, true);
        cursor = Math.max(cursor, Math.min(to, end));
      }
      if (cursor < end) writeBits(this.memory, bitmap, cursor - base, end - base, true);
    }
  }

  /** ECORRUPT when the table in RAM no longer matches what init wrote. */
  verifyRecords(): void {
    for (let r = 0; r < this.count; r++) {
      const expected = this.expectedRecord(r);
      const at = this.tableAddress + r * RECORD_BYTES;
      for (let field = 0; field < expected.length; field++) {
        const found = readU64(this.memory, at + field * 8);
        if (found !== expected[field]) {
          throw new AllocatorError(
            "ECORRUPT",
            `region table record ${r} at ${hex(at)}: field ${field} reads ${hex(found)}, expected ${hex(expected[field]!)}`,
            at + field * 8,
          );
        }
      }
    }
  }

  private expectedRecord(r: number): [number, number, number, number] {
    return [
      this.baseFrame[r]!,
      this.endFrame[r]! - this.baseFrame[r]!,
      this.metadataAddress[r]!,
      this.metadataBytes[r]!,
    ];
  }
}

function takeFromBoot(boot: BootAllocator, pages: number, what: string): number {
  const address = boot.allocFrames(pages);
  if (address === 0) {
    throw new AllocatorError(
      "ENOMEM",
      `the boot allocator has no ${pages} contiguous frames left for the buddy ${what}`,
      pages,
    );
  }
  return address;
}

export function writeU64(memory: PhysicalMemory, at: number, value: number): void {
  memory.write64(at, value >>> 0, Math.floor(value / TWO_POW_32));
}

export function readU64(memory: PhysicalMemory, at: number): number {
  return memory.read64High(at) * TWO_POW_32 + memory.read64Low(at);
}
