import { AllocatorError, PAGE_SIZE, type PhysicalMemory } from "@allockit/core";
import { readFrameNumber, writeFrameNumber } from "./frame-number.js";
import { corruptLink, describeFrame, type FreeFrameOwner, type FreeStacks } from "./free-stacks.js";
import { ZONE_COUNT, zoneName } from "./zones.js";

/**
 * Free stacks of link pages. A link page is a free frame holding
 *
 *   0   next     frame number of the link page below it (0 = bottom of the stack)
 *   8   count    entries it holds; stale while it is the top page, whose count lives in JS
 *   16  entries  frame numbers of other free frames, 4 bytes each (8 once RAM reaches 16 TiB)
 *
 * A push writes one entry into the top page; only when that is full does the pushed frame
 * become the new top page. A pop reads one entry; an empty top page is itself handed out. So an
 * operation touches one word of one hot page instead of the frame it moves, and the frames on
 * the stack stay untouched (in sparse RAM they cost no host memory).
 */
export const LINK_NEXT_OFFSET = 0;
export const LINK_COUNT_OFFSET = 8;
export const LINK_ENTRIES_OFFSET = 16;

/** Entries of a link page, for 4-byte (`wideEntries` false) or 8-byte frame numbers. */
export function entriesPerLinkPage(wideEntries: boolean): number {
  return (PAGE_SIZE - LINK_ENTRIES_OFFSET) / (wideEntries ? 8 : 4);
}

export class BatchedFreeStacks implements FreeStacks {
  readonly frames = new Float64Array(ZONE_COUNT);
  poppedBit = -1;
  readonly entriesPerPage: number;
  private readonly entryBytes: number;
  /** Frame number of each zone's top link page, 0 when the stack is empty. */
  private readonly topPage = new Float64Array(ZONE_COUNT);
  /** Entries in each zone's top page. */
  private readonly topCount = new Int32Array(ZONE_COUNT);

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly owner: FreeFrameOwner,
    /** Frame numbers reach 2^32, so entries take 8 bytes. */
    private readonly wideEntries: boolean,
    /** Clear every word the stack wrote into a frame before it is handed out. */
    private readonly scrubLinks: boolean,
  ) {
    this.entriesPerPage = entriesPerLinkPage(wideEntries);
    this.entryBytes = wideEntries ? 8 : 4;
  }

  push(zone: number, frame: number): void {
    const page = this.topPage[zone]!;
    const count = this.topCount[zone]!;
    if (page !== 0 && count < this.entriesPerPage) {
      this.writeEntry(this.entryAddress(page, count), frame);
      this.topCount[zone] = count + 1;
    } else {
      if (page !== 0) this.memory.write32(page * PAGE_SIZE + LINK_COUNT_OFFSET, count);
      writeFrameNumber(this.memory, frame * PAGE_SIZE + LINK_NEXT_OFFSET, page);
      this.topPage[zone] = frame;
      this.topCount[zone] = 0;
    }
    this.frames[zone]++;
  }

  pop(zone: number): number {
    const page = this.topPage[zone]!;
    const count = this.topCount[zone]!;
    if (count > 0) {
      const slot = this.entryAddress(page, count - 1);
      const frame = this.readEntry(slot);
      const bit = this.owner.freeBitOf(frame, zone);
      if (bit < 0)
        throw corruptLink(`entry ${count - 1} of link ${describeFrame(page)}:`, frame, zone);
      if (this.scrubLinks) this.writeEntry(slot, 0);
      this.topCount[zone] = count - 1;
      this.frames[zone]--;
      this.poppedBit = bit;
      return frame;
    }
    // The top page is empty: it is the frame handed out, and the page below becomes the top.
    // (The top page's number lives in JS, so it is safe to read before it is vetted; vetting it
    // last leaves its bitmap byte as the owner's last check, which the caller then reuses.)
    const below = readFrameNumber(this.memory, page * PAGE_SIZE + LINK_NEXT_OFFSET);
    if ((below === 0) !== (this.frames[zone] === 1)) {
      throw corruptLink(`link below ${describeFrame(page)}:`, below, zone);
    }
    let belowCount = 0;
    if (below !== 0) {
      if (this.owner.freeBitOf(below, zone) < 0) {
        throw corruptLink(`link below ${describeFrame(page)}:`, below, zone);
      }
      belowCount = this.readCount(below, zone);
    }
    const bit = this.owner.freeBitOf(page, zone);
    if (bit < 0) throw corruptLink("top link page", page, zone);
    if (this.scrubLinks) this.memory.fill(page * PAGE_SIZE, 0, LINK_ENTRIES_OFFSET);
    this.topPage[zone] = below;
    this.topCount[zone] = belowCount;
    this.frames[zone]--;
    this.poppedBit = bit;
    return page;
  }

  walk(zone: number, visit: (frame: number) => boolean): number {
    let visited = 0;
    let page = this.topPage[zone]!;
    let isTop = true;
    while (page !== 0) {
      if (!visit(page)) return visited;
      visited++;
      const count = isTop ? this.topCount[zone]! : this.readCount(page, zone);
      for (let i = 0; i < count; i++) {
        if (!visit(this.readEntry(this.entryAddress(page, i)))) return visited;
        visited++;
      }
      page = readFrameNumber(this.memory, page * PAGE_SIZE + LINK_NEXT_OFFSET);
      isTop = false;
    }
    return visited;
  }

  retain(zone: number, keep: (frame: number) => boolean): void {
    let page = this.topPage[zone]!;
    let count = this.topCount[zone]!;
    this.topPage[zone] = 0;
    this.topCount[zone] = 0;
    this.frames[zone] = 0;
    // Frames pushed onto the new stack are ones already read out of the old one, so building
    // the new stack never overwrites a page still to be read.
    while (page !== 0) {
      if (this.owner.freeBitOf(page, zone) < 0) throw corruptLink("link page", page, zone);
      for (let i = 0; i < count; i++) {
        const frame = this.readEntry(this.entryAddress(page, i));
        if (keep(frame)) this.push(zone, frame);
      }
      const below = readFrameNumber(this.memory, page * PAGE_SIZE + LINK_NEXT_OFFSET);
      if (this.scrubLinks) this.memory.fill(page * PAGE_SIZE, 0, PAGE_SIZE);
      if (keep(page)) this.push(zone, page);
      if (below !== 0 && this.owner.freeBitOf(below, zone) < 0) {
        throw corruptLink(`link below ${describeFrame(page)}:`, below, zone);
      }
      count = below === 0 ? 0 : this.readCount(below, zone);
      page = below;
    }
  }

  /** Entry count stored in a link page that is not the top one. */
  private readCount(page: number, zone: number): number {
    const count = this.memory.read32(page * PAGE_SIZE + LINK_COUNT_OFFSET);
    if (count > this.entriesPerPage) {
      throw new AllocatorError(
        "ECORRUPT",
        `${zoneName(zone)} free stack: link ${describeFrame(page)} claims ${count} entries, at most ${this.entriesPerPage} fit`,
        count,
      );
    }
    return count;
  }

  private entryAddress(page: number, index: number): number {
    return page * PAGE_SIZE + LINK_ENTRIES_OFFSET + index * this.entryBytes;
  }

  private readEntry(addr: number): number {
    return this.wideEntries ? readFrameNumber(this.memory, addr) : this.memory.read32(addr);
  }

  private writeEntry(addr: number, frame: number): void {
    if (this.wideEntries) writeFrameNumber(this.memory, addr, frame);
    else this.memory.write32(addr, frame);
  }
}
