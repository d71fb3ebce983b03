import { AllocatorError, isPowerOfTwo } from "@allockit/core";

/** Rights and state cached with a translation (combined over every level of the walk). */
export const TLB_WRITABLE = 1;
export const TLB_USER = 2;
export const TLB_NX = 4;
/** D was set in the leaf when the entry was filled; a write through a clean entry re-walks. */
export const TLB_DIRTY = 8;
export const TLB_GLOBAL = 16;

/** Tag of an empty entry: not an integer, so no page number (Math.floor of anything) matches it. */
export const TLB_EMPTY = -0.5;

/** Counters a TLB keeps. */
export interface TlbStats {
  entries: number;
  hits: number;
  misses: number;
  /** Full flushes (CR3 writes, CR0/CR4/EFER changes). */
  flushes: number;
  /** INVLPG and fault-driven single-page invalidations. */
  invalidations: number;
  /** Entries live now. */
  live: number;
}

/**
 * A translation lookaside buffer: translations cached per 4 KiB linear page, direct-mapped on
 * the page number. A large page is cached one 4 KiB slice at a time, each slice remembering
 * its page size so INVLPG anywhere in the large page drops them all. Only successful
 * translations are cached; the rights are the raw combined bits, so whatever depends on CPL,
 * CR0.WP, SMEP or SMAP is evaluated on every access and never leaks through the cache.
 *
 * State is typed arrays; a lookup or fill allocates nothing.
 */
export class Tlb {
  readonly size: number;
  readonly mask: number;
  /** Linear page number cached at each index, or TLB_EMPTY. */
  readonly tag: Float64Array;
  /** Physical address of the 4 KiB frame behind the page. */
  readonly frame: Float64Array;
  /** Backing slot of that frame in physical memory, or -1 (not yet written, or not plain RAM). */
  readonly slot: Int32Array;
  readonly flags: Uint8Array;
  /** log2 of the page size the translation came from (12, 21, 22 or 30). */
  readonly pageShift: Uint8Array;
  /**
   * The hit path's tags: the page number where an explicit read (write) at the current privilege
   * context is allowed and the frame is plain backed RAM, else TLB_EMPTY. One compare then
   * decides a hit; the owner rebuilds them when the context changes.
   */
  readonly readTag: Float64Array;
  readonly writeTag: Float64Array;
  /** The DataView and byte offset of the backing page, for the hit path. */
  readonly view: Array<DataView | undefined>;
  readonly viewOffset: Int32Array;
  // Indices that may hold an entry, so flushes cost what was filled, not the TLB size.
  private readonly filled: Int32Array;
  private readonly listed: Uint8Array;
  private filledCount = 0;
  private largeSlices = 0;
  // Slices cached per large page (key: large page number * 64 + page shift), so an INVLPG
  // scans only when the large page holding its address has slices cached; most INVLPGs (4 KiB
  // mappings, even between large pages of the direct map) skip the scan.
  private readonly slicesOf = new Map<number, number>();
  // Large page shifts with slices cached (bit `shift`), to know which keys to look up.
  private largeShifts = 0;

  hits = 0;
  misses = 0;
  flushes = 0;
  invalidations = 0;
  /**
   * Called after any entry was filled or dropped or its hit-path tags changed, so the owner can
   * forget what it derived from the entries (the CPU's last-page caches). Set once; never called
   * on a lookup.
   */
  onChange: (() => void) | undefined = undefined;

  constructor(size = 8192) {
    if (!isPowerOfTwo(size) || size < 16 || size > 1 << 20) {
      throw new AllocatorError(
        "EINVAL",
        `TLB size ${size} is not a power of two in 16 .. 2^20`,
        size,
      );
    }
    this.size = size;
    this.mask = size - 1;
    this.tag = new Float64Array(size).fill(TLB_EMPTY);
    this.frame = new Float64Array(size);
    this.slot = new Int32Array(size).fill(-1);
    this.flags = new Uint8Array(size);
    this.pageShift = new Uint8Array(size);
    this.readTag = new Float64Array(size).fill(TLB_EMPTY);
    this.writeTag = new Float64Array(size).fill(TLB_EMPTY);
    this.view = new Array<DataView | undefined>(size).fill(undefined);
    this.viewOffset = new Int32Array(size);
    this.filled = new Int32Array(size);
    this.listed = new Uint8Array(size);
  }

  /** Caches a translation of linear page `vpn`. */
  fill(vpn: number, frame: number, flags: number, pageShift: number): void {
    if (pageShift !== 12 && pageShift !== 21 && pageShift !== 22 && pageShift !== 30) {
      throw new AllocatorError(
        "EINVAL",
        `TLB page shift ${pageShift} is not 12, 21, 22 or 30`,
        pageShift,
      );
    }
    const index = vpn & this.mask;
    if (this.tag[index] !== TLB_EMPTY && this.pageShift[index]! > 12) this.dropSlice(index);
    this.tag[index] = vpn;
    this.frame[index] = frame;
    this.flags[index] = flags;
    this.pageShift[index] = pageShift;
    this.slot[index] = -1;
    this.view[index] = undefined;
    this.readTag[index] = TLB_EMPTY;
    this.writeTag[index] = TLB_EMPTY;
    if (pageShift > 12) {
      this.largeSlices++;
      const key = largeKey(vpn, pageShift);
      this.slicesOf.set(key, (this.slicesOf.get(key) ?? 0) + 1);
      this.largeShifts |= 1 << pageShift;
    }
    if (this.listed[index] === 0) {
      this.listed[index] = 1;
      this.filled[this.filledCount++] = index;
    }
    this.onChange?.();
  }

  /** Uncounts the large-page slice cached at `index`. */
  private dropSlice(index: number): void {
    this.largeSlices--;
    const key = largeKey(this.tag[index]!, this.pageShift[index]!);
    const left = (this.slicesOf.get(key) ?? 1) - 1;
    if (left === 0) this.slicesOf.delete(key);
    else this.slicesOf.set(key, left);
  }

  private drop(index: number): void {
    if (this.tag[index] === TLB_EMPTY) return;
    if (this.pageShift[index]! > 12) this.dropSlice(index);
    this.tag[index] = TLB_EMPTY;
    this.readTag[index] = TLB_EMPTY;
    this.writeTag[index] = TLB_EMPTY;
  }

  /**
   * Sets entry `index`'s backing page and hit-path tags: `readOk` / `writeOk` say, by flags,
   * whether an explicit access is allowed in the current context (writes also need D set).
   */
  setFast(
    index: number,
    slot: number,
    view: DataView | undefined,
    offset: number,
    readOk: Uint8Array,
    writeOk: Uint8Array,
  ): void {
    this.slot[index] = slot;
    this.view[index] = view;
    this.viewOffset[index] = offset;
    const vpn = this.tag[index]!;
    const backed = slot >= 0 && vpn !== TLB_EMPTY;
    const flags = this.flags[index]!;
    this.readTag[index] = backed && readOk[flags] === 1 ? vpn : TLB_EMPTY;
    this.writeTag[index] = backed && writeOk[flags] === 1 ? vpn : TLB_EMPTY;
    this.onChange?.();
  }

  /** Recomputes every hit-path tag after the privilege context changed. */
  rebuildFast(readOk: Uint8Array, writeOk: Uint8Array): void {
    for (let i = 0; i < this.filledCount; i++) {
      const at = this.filled[i]!;
      this.setFast(at, this.slot[at]!, this.view[at], this.viewOffset[at]!, readOk, writeOk);
    }
  }

  /** INVLPG: drops the translation of the page holding `va`, global or not, whole large pages. */
  invalidatePage(va: number): void {
    this.invalidations++;
    this.onChange?.();
    const vpn = Math.floor(va / 4096);
    const index = vpn & this.mask;
    if (this.tag[index] === vpn) this.drop(index);
    if (this.largeSlices === 0) {
      this.largeShifts = 0;
      return;
    }
    for (let s = 0; s < LARGE_SHIFTS.length; s++) {
      const shift = LARGE_SHIFTS[s]!;
      if ((this.largeShifts & (1 << shift)) === 0 || !this.slicesOf.has(largeKey(vpn, shift)))
        continue;
      const pagesPerLarge = 2 ** (shift - 12);
      const large = Math.floor(vpn / pagesPerLarge);
      for (let i = 0; i < this.filledCount; i++) {
        const at = this.filled[i]!;
        if (this.tag[at] === TLB_EMPTY || this.pageShift[at] !== shift) continue;
        if (Math.floor(this.tag[at]! / pagesPerLarge) === large) this.drop(at);
      }
    }
  }

  /** Drops every entry, or every non-global one (a CR3 write). */
  flush(keepGlobal: boolean): void {
    this.flushes++;
    this.onChange?.();
    let kept = 0;
    for (let i = 0; i < this.filledCount; i++) {
      const at = this.filled[i]!;
      if (keepGlobal && this.tag[at] !== TLB_EMPTY && (this.flags[at]! & TLB_GLOBAL) !== 0) {
        this.filled[kept++] = at;
      } else {
        this.drop(at);
        this.listed[at] = 0;
      }
    }
    this.filledCount = kept;
    if (this.largeSlices === 0) this.largeShifts = 0;
  }

  /** Live entries (for tests and reports). */
  get live(): number {
    let count = 0;
    for (let i = 0; i < this.filledCount; i++) if (this.tag[this.filled[i]!] !== TLB_EMPTY) count++;
    return count;
  }

  stats(): TlbStats {
    return {
      entries: this.size,
      hits: this.hits,
      misses: this.misses,
      flushes: this.flushes,
      invalidations: this.invalidations,
      live: this.live,
    };
  }
}

/** Page shifts of large pages: 2 MiB (PAE, 4-level), 4 MiB (32-bit), 1 GiB (4-level). */
const LARGE_SHIFTS = [21, 22, 30] as const;

/** Key of the large page of `pageShift` that holds linear page `vpn`, in Tlb.slicesOf. */
function largeKey(vpn: number, pageShift: number): number {
  return Math.floor(vpn / 2 ** (pageShift - 12)) * 64 + pageShift;
}
