import { PAGE_SIZE, TWO_POW_32, alignUp, formatSize, hex } from "./address.js";
import type { Heap, HeapStats } from "./contracts/heap.js";
import type { Memory } from "./contracts/memory.js";
import type { PageSource } from "./contracts/page-source.js";
import { AllocatorError, describeValue } from "./errors.js";
import { HeapCounters } from "./heap-counters.js";
import { checkPointer, checkSize, effectiveAlign } from "./validate.js";

/**
 * ListHeap: a first-fit free-list heap with coalescing, the K&R / xv6 kind, kept small on
 * purpose. It is the reference heap of core's tests and the baseline of the benchmarks.
 *
 * All metadata lives in the memory it manages. The heap grows in arenas (runs of pages from
 * the PageSource), linked in a list:
 *
 *   arena:  [arena header, 32 B][block-start bitmap][block][block]...[block]   (blocks tile it)
 *   arena header: magic, size, next arena (64-bit), prev arena (64-bit), blocks offset, pages
 *   block header (16 B): size incl. header | tag USED/FREE | requested size | previous block size
 *   free block payload: next free (64-bit), prev free (64-bit)
 *
 * The bitmap has one bit per 16-byte granule of the arena, set where a block header starts. It
 * sits outside every block, so no user write can forge it: heap_free and heap_size use it to tell
 * a real block from an interior or stale pointer with certainty. The previous-size field makes
 * coalescing with the lower neighbour O(1). When an arena becomes one free block it goes back
 * to the PageSource.
 */

const ARENA_MAGIC = 0x4c484152; // "LHAR"
const USED_TAG = 0x4c485553; // "LHUS"
const FREE_TAG = 0x4c484652; // "LHFR"

const ARENA_HEADER = 32;
const A_MAGIC = 0;
const A_SIZE = 4;
const A_NEXT = 8;
const A_PREV = 16;
const A_BLOCKS = 24;
const A_PAGES = 28;

const HEADER = 16;
const B_SIZE = 0;
const B_TAG = 4;
const B_REQUESTED = 8;
const B_PREV_SIZE = 12;
const F_NEXT = 16;
const F_PREV = 24;

const GRANULE = 16;
const MIN_BLOCK = 32;
/** Block and arena sizes are 32-bit fields. */
const MAX_ARENA_BYTES = 0xfffff000;

export interface ListHeapOptions {
  /** Preferred arena size in bytes (rounded up to pages); larger requests get their own. */
  arenaBytes?: number;
}

export class ListHeap implements Heap {
  readonly name = "list-heap";
  readonly memory: Memory;
  readonly defaultAlign = 16;
  readonly maxAlign = 2 ** 30;
  readonly releasesMemory = true;
  private readonly source: PageSource;
  private readonly arenaBytes: number;

  private firstArena = 0;
  private freeHead = 0;
  // Last arena found by address lookup, to skip the walk for runs of nearby pointers.
  private cachedArena = 0;
  private cachedArenaEnd = 0;

  private readonly counters = new HeapCounters();
  private footprintBytes = 0;
  private peakFootprintBytes = 0;
  private arenas = 0;

  constructor(source: PageSource, options: ListHeapOptions = {}) {
    this.source = source;
    this.memory = source.memory;
    const arenaBytes = options.arenaBytes ?? 64 * 1024;
    checkSize(arenaBytes, "arenaBytes");
    this.arenaBytes = Math.min(
      MAX_ARENA_BYTES,
      Math.max(PAGE_SIZE, alignUp(arenaBytes, PAGE_SIZE)),
    );
  }

  // ---------------------------------------------------------------- the common API

  heap_alloc(size: number, align?: number): number {
    checkSize(size);
    const alignment = effectiveAlign(align, this.defaultAlign, this.maxAlign);
    const blockSize = alignUp(Math.max(size, 1) + HEADER, GRANULE);
    const need = blockSize < MIN_BLOCK ? MIN_BLOCK : blockSize;
    if (need > MAX_ARENA_BYTES - ARENA_HEADER) return this.fail();

    let block = this.findFit(need, alignment);
    if (block === 0) {
      if (this.grow(need, alignment) === 0) return this.fail();
      block = this.findFit(need, alignment);
      if (block === 0) return this.fail();
    }
    const header = this.carve(block, need, alignment);
    this.memory.write32(header + B_TAG, USED_TAG);
    this.memory.write32(header + B_REQUESTED, size);
    this.counters.allocated(this.memory.read32(header + B_SIZE) - HEADER, size);
    return header + HEADER;
  }

  heap_size(ptr: number): number {
    if (!Number.isSafeInteger(ptr) || ptr < HEADER) return 0;
    const header = ptr - HEADER;
    const arena = this.arenaOf(header);
    if (arena === 0 || !this.isBlockStart(arena, header)) return 0;
    if (this.memory.read32(header + B_TAG) !== USED_TAG) return 0;
    return this.memory.read32(header + B_SIZE) - HEADER;
  }

  heap_free(ptr: number): void {
    if (ptr === 0) return;
    checkPointer(ptr);
    const header = ptr - HEADER;
    const arena = header >= 0 ? this.arenaOf(header) : 0;
    if (arena === 0) {
      throw new AllocatorError(
        "EFAULT",
        `heap_free: pointer ${describeValue(ptr)} is not in this heap`,
        ptr,
      );
    }
    if (!this.isBlockStart(arena, header)) this.badInterior(arena, ptr);
    const tag = this.memory.read32(header + B_TAG);
    if (tag === FREE_TAG) {
      throw new AllocatorError(
        "EDOUBLEFREE",
        `heap_free: pointer ${describeValue(ptr)} was already freed`,
        ptr,
      );
    }
    if (tag !== USED_TAG) {
      throw new AllocatorError(
        "ECORRUPT",
        `heap_free: block header at ${hex(header)} has tag ${hex(tag)}`,
        ptr,
      );
    }
    const size = this.memory.read32(header + B_SIZE);
    this.counters.released(size - HEADER, this.memory.read32(header + B_REQUESTED));
    this.release(arena, header, size);
  }

  stats(): HeapStats {
    let freeBlocks = 0;
    let freeBytes = 0;
    for (let b = this.freeHead; b !== 0; b = this.read64(b + F_NEXT)) {
      freeBlocks++;
      freeBytes += this.memory.read32(b + B_SIZE);
    }
    return this.counters.stats(this.footprintBytes, this.peakFootprintBytes, {
      arenas: this.arenas,
      freeBlocks,
      freeBytes,
    });
  }

  // ---------------------------------------------------------------- allocation

  private fail(): number {
    this.counters.failed();
    return 0;
  }

  /** First free block that can hold `need` bytes at `alignment`; 0 when none. */
  private findFit(need: number, alignment: number): number {
    const mem = this.memory;
    for (let b = this.freeHead; b !== 0; b = this.read64(b + F_NEXT)) {
      const size = mem.read32(b + B_SIZE);
      if (size < need) continue;
      if (alignment <= GRANULE || this.alignedGap(b, alignment) + need <= size) return b;
    }
    return 0;
  }

  /** Bytes to skip at the start of free block `b` so its payload is aligned (0 or >= MIN_BLOCK). */
  private alignedGap(b: number, alignment: number): number {
    let gap = alignUp(b + HEADER, alignment) - HEADER - b;
    if (gap !== 0 && gap < MIN_BLOCK) gap += alignment;
    return gap;
  }

  /**
   * Takes `need` bytes for a used block out of free block `b`: a leading gap (for alignment)
   * stays a free block, a large enough tail becomes a new free block. Returns the header.
   */
  private carve(b: number, need: number, alignment: number): number {
    const mem = this.memory;
    let header = b;
    let size = mem.read32(b + B_SIZE);
    const gap = alignment <= GRANULE ? 0 : this.alignedGap(b, alignment);
    if (gap !== 0) {
      // b keeps the gap and stays in the free list; the aligned part becomes its own block.
      header = b + gap;
      size -= gap;
      mem.write32(b + B_SIZE, gap);
      this.writeHeader(header, size, gap);
      this.setBlockStart(header, true);
      this.setNextPrevSize(header, size);
    } else {
      this.unlinkFree(b);
    }
    const rest = size - need;
    if (rest >= MIN_BLOCK) {
      const tail = header + need;
      mem.write32(header + B_SIZE, need);
      this.writeHeader(tail, rest, need);
      mem.write32(tail + B_TAG, FREE_TAG);
      this.setBlockStart(tail, true);
      this.setNextPrevSize(tail, rest);
      this.pushFree(tail);
    }
    return header;
  }

  /** Gets a new arena big enough for `need` bytes at `alignment`; returns it or 0. */
  private grow(need: number, alignment: number): number {
    const slack = alignment <= GRANULE ? 0 : alignment + MIN_BLOCK;
    let bytes = alignUp(
      ARENA_HEADER + need + slack + Math.ceil((need + slack) / 64) + GRANULE,
      PAGE_SIZE,
    );
    while (bytes - this.blocksOffset(bytes) < need + slack) bytes += PAGE_SIZE;
    if (bytes > MAX_ARENA_BYTES) return 0;
    let arena = 0;
    if (bytes < this.arenaBytes) {
      arena = this.source.allocPages(this.arenaBytes / PAGE_SIZE);
      if (arena !== 0) bytes = this.arenaBytes;
    }
    if (arena === 0) arena = this.source.allocPages(bytes / PAGE_SIZE);
    if (arena === 0) return 0;
    this.initArena(arena, bytes);
    return arena;
  }

  private blocksOffset(arenaBytes: number): number {
    return alignUp(ARENA_HEADER + Math.ceil(arenaBytes / GRANULE / 8), GRANULE);
  }

  private initArena(arena: number, bytes: number): void {
    const mem = this.memory;
    const blocks = this.blocksOffset(bytes);
    mem.write32(arena + A_MAGIC, ARENA_MAGIC);
    mem.write32(arena + A_SIZE, bytes);
    this.write64(arena + A_NEXT, this.firstArena);
    this.write64(arena + A_PREV, 0);
    mem.write32(arena + A_BLOCKS, blocks);
    mem.write32(arena + A_PAGES, bytes / PAGE_SIZE);
    if (this.firstArena !== 0) this.write64(this.firstArena + A_PREV, arena);
    this.firstArena = arena;
    mem.fill(arena + ARENA_HEADER, 0, blocks - ARENA_HEADER);
    const first = arena + blocks;
    this.writeHeader(first, bytes - blocks, 0);
    mem.write32(first + B_TAG, FREE_TAG);
    this.setBlockStart(first, true);
    this.pushFree(first);
    this.arenas++;
    this.footprintBytes += bytes;
    if (this.footprintBytes > this.peakFootprintBytes)
      this.peakFootprintBytes = this.footprintBytes;
  }

  // ---------------------------------------------------------------- freeing

  /** Marks the used block free, merges it with free neighbours, and returns an empty arena. */
  private release(arena: number, header: number, size: number): void {
    const mem = this.memory;
    const arenaEnd = arena + mem.read32(arena + A_SIZE);
    let start = header;
    let total = size;
    let inList = false;

    const next = header + size;
    if (next < arenaEnd && mem.read32(next + B_TAG) === FREE_TAG) {
      this.unlinkFree(next);
      this.setBlockStart(next, false);
      total += mem.read32(next + B_SIZE);
    }
    const prevSize = mem.read32(header + B_PREV_SIZE);
    if (prevSize !== 0) {
      const prev = header - prevSize;
      if (mem.read32(prev + B_TAG) === FREE_TAG) {
        this.setBlockStart(header, false);
        start = prev;
        total += prevSize;
        inList = true;
      }
    }
    mem.write32(start + B_SIZE, total);
    mem.write32(start + B_TAG, FREE_TAG);
    this.setNextPrevSize(start, total);

    if (start === arena + mem.read32(arena + A_BLOCKS) && start + total === arenaEnd) {
      if (inList) this.unlinkFree(start);
      this.dropArena(arena);
      return;
    }
    if (!inList) this.pushFree(start);
  }

  private dropArena(arena: number): void {
    const mem = this.memory;
    const next = this.read64(arena + A_NEXT);
    const prev = this.read64(arena + A_PREV);
    if (prev === 0) this.firstArena = next;
    else this.write64(prev + A_NEXT, next);
    if (next !== 0) this.write64(next + A_PREV, prev);
    const bytes = mem.read32(arena + A_SIZE);
    mem.write32(arena + A_MAGIC, 0);
    if (this.cachedArena === arena) this.cachedArena = this.cachedArenaEnd = 0;
    this.arenas--;
    this.footprintBytes -= bytes;
    this.source.freePages(arena, bytes / PAGE_SIZE);
  }

  /** Raises the right error for a pointer inside an arena that is not a block start. */
  private badInterior(arena: number, ptr: number): never {
    const block = this.blockContaining(arena, ptr);
    if (block !== 0 && this.memory.read32(block + B_TAG) === FREE_TAG) {
      throw new AllocatorError(
        "EDOUBLEFREE",
        `heap_free: pointer ${describeValue(ptr)} lies in free memory (block ${hex(block)}): freed already, or never handed out`,
        ptr,
      );
    }
    const where =
      block === 0
        ? "in arena metadata"
        : `${ptr - block - HEADER} bytes into the block at ${hex(block + HEADER)}`;
    throw new AllocatorError(
      "EFAULT",
      `heap_free: pointer ${describeValue(ptr)} is not a block start (${where})`,
      ptr,
    );
  }

  private blockContaining(arena: number, addr: number): number {
    const mem = this.memory;
    const end = arena + mem.read32(arena + A_SIZE);
    for (let b = arena + mem.read32(arena + A_BLOCKS); b < end; b += mem.read32(b + B_SIZE)) {
      if (addr < b + mem.read32(b + B_SIZE)) return addr >= b ? b : 0;
    }
    return 0;
  }

  // ---------------------------------------------------------------- metadata helpers

  /** The arena containing `addr`, or 0. */
  private arenaOf(addr: number): number {
    if (addr >= this.cachedArena && addr < this.cachedArenaEnd) return this.cachedArena;
    const mem = this.memory;
    for (let a = this.firstArena; a !== 0; a = this.read64(a + A_NEXT)) {
      const end = a + mem.read32(a + A_SIZE);
      if (addr >= a && addr < end) {
        this.cachedArena = a;
        this.cachedArenaEnd = end;
        return a;
      }
    }
    return 0;
  }

  private isBlockStart(arena: number, header: number): boolean {
    const offset = header - arena;
    if (offset % GRANULE !== 0 || offset < this.memory.read32(arena + A_BLOCKS)) return false;
    const granule = offset / GRANULE;
    return (this.memory.read8(arena + ARENA_HEADER + (granule >>> 3)) & (1 << (granule & 7))) !== 0;
  }

  private setBlockStart(header: number, on: boolean): void {
    const arena = this.arenaOf(header);
    const granule = (header - arena) / GRANULE;
    const byteAddr = arena + ARENA_HEADER + (granule >>> 3);
    const bits = this.memory.read8(byteAddr);
    this.memory.write8(byteAddr, on ? bits | (1 << (granule & 7)) : bits & ~(1 << (granule & 7)));
  }

  private writeHeader(header: number, size: number, prevSize: number): void {
    this.memory.write32(header + B_SIZE, size);
    this.memory.write32(header + B_REQUESTED, 0);
    this.memory.write32(header + B_PREV_SIZE, prevSize);
  }

  /** Records `size` as the previous-block size of the block after `header`, if any. */
  private setNextPrevSize(header: number, size: number): void {
    const arena = this.arenaOf(header);
    const next = header + size;
    if (next < arena + this.memory.read32(arena + A_SIZE))
      this.memory.write32(next + B_PREV_SIZE, size);
  }

  private pushFree(b: number): void {
    this.write64(b + F_NEXT, this.freeHead);
    this.write64(b + F_PREV, 0);
    if (this.freeHead !== 0) this.write64(this.freeHead + F_PREV, b);
    this.freeHead = b;
  }

  private unlinkFree(b: number): void {
    const next = this.read64(b + F_NEXT);
    const prev = this.read64(b + F_PREV);
    if (prev === 0) this.freeHead = next;
    else this.write64(prev + F_NEXT, next);
    if (next !== 0) this.write64(next + F_PREV, prev);
  }

  private read64(addr: number): number {
    return this.memory.read32(addr + 4) * TWO_POW_32 + this.memory.read32(addr);
  }

  private write64(addr: number, value: number): void {
    this.memory.write32(addr, value >>> 0); // ToUint32: the low 32 bits, exact below 2^53
    this.memory.write32(addr + 4, Math.floor(value / TWO_POW_32));
  }

  // ---------------------------------------------------------------- check

  /** Walks every arena, block and free-list link; throws ECORRUPT on the first inconsistency. */
  /**
   * One line per arena (address, size, used and free blocks, largest free block) after a
   * check() of all metadata, then the free-list length. Reads metadata only.
   */
  dump(): string {
    this.check();
    const mem = this.memory;
    const lines = [
      `list-heap: ${this.arenas} arena(s), ${formatSize(this.footprintBytes)} from the page source, ${this.counters.liveBlocks} live block(s) holding ${formatSize(this.counters.liveBytes)}`,
    ];
    let freeBlocks = 0;
    for (let a = this.firstArena; a !== 0; a = this.read64(a + A_NEXT)) {
      const size = mem.read32(a + A_SIZE);
      let used = 0;
      let usedBytes = 0;
      let free = 0;
      let freeBytes = 0;
      let largest = 0;
      for (let b = a + mem.read32(a + A_BLOCKS); b < a + size; b += mem.read32(b + B_SIZE)) {
        const payload = mem.read32(b + B_SIZE) - HEADER;
        if (mem.read32(b + B_TAG) === USED_TAG) {
          used++;
          usedBytes += payload;
        } else {
          free++;
          freeBytes += payload;
          if (payload > largest) largest = payload;
        }
      }
      freeBlocks += free;
      lines.push(
        `  arena ${hex(a)} ${formatSize(size).padStart(9)}: ${String(used).padStart(6)} used (${formatSize(usedBytes)}), ${String(free).padStart(5)} free (${formatSize(freeBytes)}, largest ${formatSize(largest)})`,
      );
    }
    lines.push(`free list: ${freeBlocks} block(s), first fit from ${hex(this.freeHead)}`);
    return lines.join("\n") + "\n";
  }

  check(): void {
    const mem = this.memory;
    const corrupt = (what: string, at: number): never => {
      throw new AllocatorError("ECORRUPT", `list-heap: ${what} at ${hex(at)}`, at);
    };
    let arenas = 0;
    let footprint = 0;
    let live = 0;
    let liveBytes = 0;
    let requested = 0;
    let freeBlocksWalked = 0;
    let prevArena = 0;
    for (let a = this.firstArena; a !== 0; a = this.read64(a + A_NEXT)) {
      if (++arenas > 1_000_000) corrupt("arena list loops", a);
      if (mem.read32(a + A_MAGIC) !== ARENA_MAGIC)
        corrupt(`arena magic ${hex(mem.read32(a + A_MAGIC))}`, a);
      if (this.read64(a + A_PREV) !== prevArena) corrupt("arena prev link", a);
      const size = mem.read32(a + A_SIZE);
      const blocks = mem.read32(a + A_BLOCKS);
      if (size % PAGE_SIZE !== 0 || mem.read32(a + A_PAGES) * PAGE_SIZE !== size)
        corrupt("arena size", a);
      if (blocks !== this.blocksOffset(size)) corrupt("arena blocks offset", a);
      footprint += size;
      const end = a + size;
      let prevSize = 0;
      let prevFree = false;
      let b = a + blocks;
      for (let granule = blocks / GRANULE; granule < size / GRANULE; granule++) {
        const at = a + granule * GRANULE;
        const bit = (mem.read8(a + ARENA_HEADER + (granule >>> 3)) & (1 << (granule & 7))) !== 0;
        if (bit !== (at === b))
          corrupt(bit ? "stray block-start bit" : "missing block-start bit", at);
        if (at !== b) continue;
        const bsize = mem.read32(b + B_SIZE);
        if (bsize < MIN_BLOCK || bsize % GRANULE !== 0 || b + bsize > end)
          corrupt(`block size ${bsize}`, b);
        if (mem.read32(b + B_PREV_SIZE) !== prevSize) corrupt("previous-size field", b);
        const tag = mem.read32(b + B_TAG);
        if (tag === FREE_TAG) {
          if (prevFree) corrupt("two adjacent free blocks (missed coalesce)", b);
          freeBlocksWalked++;
          prevFree = true;
        } else if (tag === USED_TAG) {
          live++;
          liveBytes += bsize - HEADER;
          requested += mem.read32(b + B_REQUESTED);
          if (mem.read32(b + B_REQUESTED) > bsize - HEADER)
            corrupt("requested size larger than block", b);
          prevFree = false;
        } else {
          corrupt(`block tag ${hex(tag)}`, b);
        }
        prevSize = bsize;
        b += bsize;
      }
      if (b !== end) corrupt("blocks do not tile the arena", a);
      prevArena = a;
    }
    let listed = 0;
    let prevFreeBlock = 0;
    for (let f = this.freeHead; f !== 0; f = this.read64(f + F_NEXT)) {
      if (++listed > freeBlocksWalked)
        corrupt("free list longer than the free blocks (loop or stray entry)", f);
      const arena = this.arenaOf(f);
      if (arena === 0 || !this.isBlockStart(arena, f)) corrupt("free-list entry is not a block", f);
      if (mem.read32(f + B_TAG) !== FREE_TAG) corrupt("free-list entry is not free", f);
      if (this.read64(f + F_PREV) !== prevFreeBlock) corrupt("free-list prev link", f);
      prevFreeBlock = f;
    }
    if (listed !== freeBlocksWalked)
      corrupt(`free list holds ${listed} of ${freeBlocksWalked} free blocks`, this.freeHead);
    if (arenas !== this.arenas || footprint !== this.footprintBytes)
      corrupt("arena count or footprint", this.firstArena);
    if (
      live !== this.counters.liveBlocks ||
      liveBytes !== this.counters.liveBytes ||
      requested !== this.counters.requestedBytes
    ) {
      corrupt(
        `live counters (${live} blocks / ${liveBytes} B walked, ${this.counters.liveBlocks} / ${this.counters.liveBytes} counted)`,
        this.firstArena,
      );
    }
  }
}
