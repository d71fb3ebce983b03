import { AllocatorError, PAGE_SIZE, hex, type PhysicalMemory } from "@allockit/core";
import type { FreeAreas } from "./free-areas.js";
import { MetadataSnapshot } from "./metadata-snapshot.js";
import { ZONE_COUNT, zoneName } from "./zones.js";

/**
 * The full consistency walk behind `check()`. It proves, from RAM alone, that every frame of
 * every region is in exactly one state (free in exactly one block, allocated, or unmanaged):
 *
 * 1. every list: links both ways (the head has no previous link), no cycle, each block aligned to its order, inside one region
 *    and its zone, its free bit set, no allocated or unmanaged frame inside, no free ancestor
 *    (overlap), its buddy not free at the same order (a missed coalesce), count as recorded;
 * 2. the top order (a bitmap only): the same per block, and its scan hint a true lower bound;
 * 3. every free bitmap holds exactly as many bits as the lists hold blocks;
 * 4. per zone, free + allocated + unmanaged frames add up to the region frames, allocated and
 *    unmanaged never overlap, and the counters agree.
 *
 * The bitmaps are read through one snapshot; the lists are followed in RAM.
 */
export function checkConsistency(
  memory: PhysicalMemory,
  areas: FreeAreas,
  zoneTotals: Float64Array,
): void {
  const regions = areas.regions;
  regions.verifyRecords();
  const snapshot = new MetadataSnapshot(regions, memory);
  const freeSeen = new Float64Array(ZONE_COUNT);
  for (let zone = 0; zone < ZONE_COUNT; zone++) {
    for (let order = 0; order < areas.maxOrder; order++) {
      freeSeen[zone] += walkList(snapshot, areas, zone, order);
    }
    freeSeen[zone] += walkTopOrder(snapshot, areas, zone);
    for (let order = 0; order <= areas.maxOrder; order++) {
      const hasBlocks = areas.blockCounts[zone * areas.orderCount + order]! > 0;
      if (hasBlocks !== ((areas.nonEmptyOrders[zone]! >>> order) & 1) > 0) {
        corrupt(
          `zone ${zoneName(zone)}: the non-empty mask disagrees with the count of order ${order}`,
          order,
        );
      }
    }
  }
  for (let order = 0; order <= areas.maxOrder; order++) {
    let bits = 0;
    for (let r = 0; r < regions.count; r++) {
      const frames = regions.endFrame[r]! - regions.baseFrame[r]!;
      bits += snapshot.count(r, areas.freeBitmap(r, order), 0, frames / 2 ** order);
    }
    let blocks = 0;
    for (let zone = 0; zone < ZONE_COUNT; zone++) {
      blocks += areas.blockCounts[zone * areas.orderCount + order]!;
    }
    if (bits !== blocks) {
      corrupt(
        `the order-${order} free bitmaps have ${bits} bits set but the lists hold ${blocks} blocks`,
        order,
      );
    }
  }
  checkFrameAccounting(snapshot, areas, zoneTotals, freeSeen);
}

/** Walks one list; returns its free frames. */
function walkList(
  snapshot: MetadataSnapshot,
  areas: FreeAreas,
  zone: number,
  order: number,
): number {
  const slot = zone * areas.orderCount + order;
  const expected = areas.blockCounts[slot]!;
  const where = `zone ${zoneName(zone)} order ${order} list`;
  let frame = areas.heads[slot]!;
  let previous = 0;
  let seen = 0;
  while (frame !== 0) {
    const address = frame * PAGE_SIZE;
    if (seen >= expected) {
      corrupt(
        `${where} holds more than its ${expected} blocks (a cycle or a stray link after ${hex(previous * PAGE_SIZE)})`,
        address,
      );
    }
    if (frame % 2 ** order !== 0) {
      corrupt(`${where}: block ${hex(address)} is not aligned to its order`, address);
    }
    checkFreeBlock(snapshot, areas, frame, order, zone, where);
    // The head's previous link is not kept.
    const back = seen === 0 ? 0 : areas.previousOnList(frame);
    if (back !== previous) {
      corrupt(
        `${where}: block ${hex(address)} links back to ${hex(back * PAGE_SIZE)}, not ${hex(previous * PAGE_SIZE)}`,
        address,
      );
    }
    previous = frame;
    frame = areas.nextOnList(frame);
    seen++;
  }
  if (seen !== expected) corrupt(`${where} holds ${seen} blocks, counted ${expected}`, seen);
  return seen * 2 ** order;
}

/** Checks the top-order blocks of a zone (kept in the bitmap only); returns their frames. */
function walkTopOrder(snapshot: MetadataSnapshot, areas: FreeAreas, zone: number): number {
  const regions = areas.regions;
  const order = areas.maxOrder;
  const blockFrames = 2 ** order;
  const low = areas.zones.lowFrame[zone]!;
  const high = areas.zones.highFrame[zone]!;
  const hint = Math.max(low, areas.topScanFrom[zone]!);
  const where = `zone ${zoneName(zone)} top order`;
  let seen = 0;
  for (let r = 0; r < regions.count; r++) {
    const base = regions.baseFrame[r]!;
    const from = Math.max(low, base);
    const to = Math.min(high, regions.endFrame[r]!);
    if (from >= to) continue;
    const bitmap = areas.freeBitmap(r, order);
    const endBit = Math.ceil((to - base) / blockFrames);
    for (
      let bit = snapshot.findSet(r, bitmap, Math.floor((from - base) / blockFrames), endBit);
      bit >= 0;
      bit = snapshot.findSet(r, bitmap, bit + 1, endBit)
    ) {
      const block = base + bit * blockFrames;
      if (block < hint) {
        corrupt(
          `${where}: block ${hex(block * PAGE_SIZE)} lies below the scan hint ${hex(hint * PAGE_SIZE)}`,
          block * PAGE_SIZE,
        );
      }
      checkFreeBlock(snapshot, areas, block, order, zone, where);
      seen++;
    }
  }
  const expected = areas.blockCounts[zone * areas.orderCount + order]!;
  if (seen !== expected) corrupt(`${where} has ${seen} free blocks, counted ${expected}`, seen);
  return seen * blockFrames;
}

function checkFreeBlock(
  snapshot: MetadataSnapshot,
  areas: FreeAreas,
  frame: number,
  order: number,
  zone: number,
  where: string,
): void {
  const regions = areas.regions;
  const address = frame * PAGE_SIZE;
  const size = 2 ** order;
  const r = regions.find(frame);
  if (r < 0 || frame + size > regions.endFrame[r]!) {
    corrupt(
      `${where}: block ${hex(address)} is outside the regions the allocator manages`,
      address,
    );
  }
  if (frame < areas.zones.lowFrame[zone]! || frame + size > areas.zones.highFrame[zone]!) {
    corrupt(`${where}: block ${hex(address)} of order ${order} is not inside its zone`, address);
  }
  const base = regions.baseFrame[r]!;
  const index = frame - base;
  if (!snapshot.test(r, areas.freeBitmap(r, order), index >>> order)) {
    corrupt(`${where}: block ${hex(address)} is listed but its free bit is clear`, address);
  }
  const allocated = snapshot.findSet(r, regions.allocatedBitmap[r]!, index, index + size);
  if (allocated >= 0) {
    corrupt(
      `${where}: free block ${hex(address)} holds allocated frame ${hex((base + allocated) * PAGE_SIZE)}`,
      address,
    );
  }
  const unmanaged = snapshot.findSet(r, regions.unmanagedBitmap[r]!, index, index + size);
  if (unmanaged >= 0) {
    corrupt(
      `${where}: free block ${hex(address)} holds unmanaged frame ${hex((base + unmanaged) * PAGE_SIZE)}`,
      address,
    );
  }
  for (let ancestor = order + 1; ancestor <= areas.maxOrder; ancestor++) {
    if (snapshot.test(r, areas.freeBitmap(r, ancestor), index >>> ancestor)) {
      corrupt(
        `${where}: block ${hex(address)} overlaps a free block of order ${ancestor}`,
        address,
      );
    }
  }
  if (order < areas.maxOrder) {
    const merged = base + (index & ~size);
    const mergeable =
      merged >= areas.zones.lowFrame[zone]! && merged + 2 * size <= areas.zones.highFrame[zone]!;
    if (mergeable && snapshot.test(r, areas.freeBitmap(r, order), (index ^ size) >>> order)) {
      corrupt(
        `${where}: block ${hex(address)} and its buddy are both free at order ${order} (missed coalesce)`,
        address,
      );
    }
  }
}

/** Per zone: free + allocated + unmanaged = region frames, no overlap, counters agree. */
function checkFrameAccounting(
  snapshot: MetadataSnapshot,
  areas: FreeAreas,
  zoneTotals: Float64Array,
  freeSeen: Float64Array,
): void {
  const regions = areas.regions;
  for (let zone = 0; zone < ZONE_COUNT; zone++) {
    const name = zoneName(zone);
    let regionFrames = 0;
    let allocated = 0;
    let unmanaged = 0;
    for (let r = 0; r < regions.count; r++) {
      const base = regions.baseFrame[r]!;
      const from = Math.max(base, areas.zones.lowFrame[zone]!) - base;
      const to = Math.min(regions.endFrame[r]!, areas.zones.highFrame[zone]!) - base;
      if (from >= to) continue;
      regionFrames += to - from;
      const allocatedBitmap = regions.allocatedBitmap[r]!;
      const unmanagedBitmap = regions.unmanagedBitmap[r]!;
      allocated += snapshot.count(r, allocatedBitmap, from, to);
      unmanaged += snapshot.count(r, unmanagedBitmap, from, to);
      const both = snapshot.findCommon(r, allocatedBitmap, unmanagedBitmap, from, to);
      if (both >= 0) {
        corrupt(`frame ${hex((base + both) * PAGE_SIZE)} is both allocated and unmanaged`, both);
      }
    }
    const free = freeSeen[zone]!;
    if (free !== areas.freeFrames[zone]) {
      corrupt(
        `zone ${name}: the lists hold ${free} free frames, counted ${areas.freeFrames[zone]}`,
        free,
      );
    }
    if (free + allocated !== zoneTotals[zone]) {
      corrupt(
        `zone ${name}: ${free} free + ${allocated} allocated frames, but it manages ${zoneTotals[zone]}`,
        allocated,
      );
    }
    if (free + allocated + unmanaged !== regionFrames) {
      corrupt(
        `zone ${name}: ${free} free + ${allocated} allocated + ${unmanaged} unmanaged frames, ` +
          `but its regions hold ${regionFrames} (frames lost or counted twice)`,
        regionFrames,
      );
    }
  }
}

function corrupt(message: string, value: unknown): never {
  throw new AllocatorError("ECORRUPT", message, value);
}
