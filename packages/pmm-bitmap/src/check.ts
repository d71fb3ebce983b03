import { AllocatorError, ZONES, hex, type PhysicalMemory } from "@allockit/core";
import { FULL_WORD, WORD_BITS, WORD_BYTES, WORD_SHIFT, popcount32 } from "./bits.js";
import type { FrameBitmaps } from "./frame-bitmaps.js";
import { descriptorMismatch, headerMismatch } from "./descriptors.js";
import { MAX_LEVELS, ZONE_COUNT } from "./layout.js";

/**
 * Walks every word of the metadata and throws ECORRUPT at the first inconsistency: a header or
 * descriptor that no longer matches the layout, tail bits cleared, an unmanaged frame not marked
 * taken, a summary bit that disagrees with the word below it, or a free / unmanaged count (per
 * region in RAM, per zone in JS) that disagrees with the bits.
 */
export function checkBitmaps(
  bitmaps: FrameBitmaps,
  memory: PhysicalMemory,
  zoneTotal: Float64Array,
  zoneFree: Float64Array,
): void {
  checkHeader(bitmaps, memory);
  const totalSeen = new Float64Array(ZONE_COUNT);
  const freeSeen = new Float64Array(ZONE_COUNT);
  for (let region = 0; region < bitmaps.regionCount; region++) {
    const mismatch = descriptorMismatch(memory, bitmaps, region);
    if (mismatch !== undefined) corrupt(bitmaps, region, `descriptor ${mismatch}`);
    const { free, unmanaged } = walkRegion(bitmaps, memory, region);
    if (bitmaps.freeFrames(region) !== free) {
      corrupt(
        bitmaps,
        region,
        `counts ${bitmaps.freeFrames(region)} free frames, the bitmap ${free}`,
      );
    }
    if (bitmaps.unmanagedFrames(region) !== unmanaged) {
      corrupt(
        bitmaps,
        region,
        `counts ${bitmaps.unmanagedFrames(region)} unmanaged frames, the bitmap ${unmanaged}`,
      );
    }
    const nextFit = bitmaps.nextFit(region);
    if (nextFit >= bitmaps.frameCount[region]!) {
      corrupt(bitmaps, region, `next-fit hint ${nextFit} is past the region's end`);
    }
    const zone = bitmaps.zoneIndex[region]!;
    totalSeen[zone]! += bitmaps.frameCount[region]! - unmanaged;
    freeSeen[zone]! += free;
  }
  for (let zone = 0; zone < ZONE_COUNT; zone++) {
    if (totalSeen[zone] !== zoneTotal[zone] || freeSeen[zone] !== zoneFree[zone]) {
      throw new AllocatorError(
        "ECORRUPT",
        `pmm-bitmap zone ${ZONES[zone]}: counters say ${zoneFree[zone]} of ${zoneTotal[zone]} ` +
          `frames free, the bitmaps ${freeSeen[zone]} of ${totalSeen[zone]}`,
        ZONES[zone],
      );
    }
  }
}

function checkHeader(bitmaps: FrameBitmaps, memory: PhysicalMemory): void {
  const mismatch = headerMismatch(memory, bitmaps);
  if (mismatch !== undefined) {
    throw new AllocatorError(
      "ECORRUPT",
      `pmm-bitmap metadata header at ${hex(bitmaps.metadataAddr)}: ${mismatch}`,
      bitmaps.metadataAddr,
    );
  }
}

/** Words read a chunk at a time: one bulk read per 16 KiB instead of one call per word. */
const CHUNK_WORDS = 4096;

class WordStream {
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private first = 0;
  private loaded = 0;

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly addr: number,
    private readonly words: number,
  ) {}

  /** Word `index` as int32. Sequential reads load each chunk once. */
  at(index: number): number {
    if (index < this.first || index >= this.first + this.loaded) {
      this.first = index - (index % CHUNK_WORDS);
      this.loaded = Math.min(CHUNK_WORDS, this.words - this.first);
      const bytes = this.memory.readBytes(
        this.addr + this.first * WORD_BYTES,
        this.loaded * WORD_BYTES,
      );
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    return this.view.getInt32((index - this.first) * WORD_BYTES, true);
  }
}

/**
 * One pass over every level of a region: tail bits set, each summary bit equal to "the word
 * below is full", unmanaged frames taken too. Returns the free and unmanaged frame counts.
 */
function walkRegion(
  bitmaps: FrameBitmaps,
  memory: PhysicalMemory,
  region: number,
): { free: number; unmanaged: number } {
  const levels = bitmaps.levelCount[region]!;
  const slot = region * MAX_LEVELS;
  let free = 0;
  let unmanaged = 0;
  for (let level = 0; level < levels; level++) {
    const words = bitmaps.levelWords[slot + level]!;
    const stream = new WordStream(memory, bitmaps.levelAddr[slot + level]!, words);
    const unmanagedStream =
      level === 0 ? new WordStream(memory, bitmaps.unmanagedAddr[region]!, words) : undefined;
    const parent =
      level + 1 < levels
        ? new WordStream(
            memory,
            bitmaps.levelAddr[slot + level + 1]!,
            bitmaps.levelWords[slot + level + 1]!,
          )
        : undefined;
    const tail = bitmaps.tailMask(region, level);
    let expected = 0;
    for (let word = 0; word < words; word++) {
      const bits = stream.at(word);
      const last = word === words - 1;
      if (last && (bits & tail) !== tail) {
        bitmaps.corrupt(region, level, word, "has bits past the region's end cleared");
      }
      if (unmanagedStream !== undefined) {
        const notManaged = unmanagedStream.at(word);
        if ((notManaged & ~bits) !== 0) {
          bitmaps.corrupt(region, 0, word, "has unmanaged frames that are not marked taken");
        }
        if (last && (notManaged & tail) !== 0) {
          bitmaps.corrupt(region, 0, word, "has unmanaged bits past the region's end");
        }
        free += popcount32(~bits);
        unmanaged += popcount32(notManaged);
      }
      if (parent === undefined) continue;
      if (bits === FULL_WORD) expected |= 1 << (word & (WORD_BITS - 1));
      if ((word & (WORD_BITS - 1)) === WORD_BITS - 1 || last) {
        const index = word >>> WORD_SHIFT;
        const actual = parent.at(index);
        // The parent's own tail bits are checked on its level.
        const mask = last ? ~bitmaps.tailMask(region, level + 1) : FULL_WORD;
        if ((actual & mask) !== expected) {
          bitmaps.corrupt(
            region,
            level + 1,
            index,
            `reads ${hex(actual >>> 0)}, but the full words below it give ${hex(expected >>> 0)}`,
          );
        }
        expected = 0;
      }
    }
  }
  return { free, unmanaged };
}

function corrupt(bitmaps: FrameBitmaps, region: number, what: string): never {
  throw new AllocatorError(
    "ECORRUPT",
    `pmm-bitmap region ${region} at ${hex(bitmaps.descriptorAddr[region]!)}: ${what}`,
    bitmaps.descriptorAddr[region]!,
  );
}
