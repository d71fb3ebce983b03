import { PAGE_SIZE } from "@allockit/core";
import type { AddressSpace, Protection, Region, RegionKind } from "@allockit/core";

/**
 * The suite's model of a VMM: per address space its regions, and per usable page what was
 * written there, whether it was committed and, for "fixed", the frame behind it. Pages the
 * suite removed are remembered with the step that removed them, so that an access which still
 * succeeds can be reported as the stale translation it is.
 */

/** A region as the model holds it. Stacks carry their guard below `start`. */
export interface ModelRegion {
  start: number;
  sizeBytes: number;
  kind: RegionKind;
  protection: Protection;
  guardBytes: number;
  /** For "fixed": the frame behind `start`. */
  physical: number | undefined;
  /** There before the suite started (boot regions): never touched, only compared. */
  baseline: boolean;
  /** Suite-side name ("k3", "u2.5"), kept by the pieces a split leaves. */
  label: string;
}

/** A usable page of a region the suite made. */
export interface ModelPage {
  /** Bytes written through a CPU: offset in the page -> value. */
  written: Map<number, number> | undefined;
  /** Made present by commit (or map with commit) and not decommitted since. */
  committed: boolean;
  /** For a "fixed" page: its frame, which holds the suite's pattern. */
  fixedFrame: number | undefined;
}

export function extentStart(region: ModelRegion): number {
  return region.start - region.guardBytes;
}

export function regionEnd(region: ModelRegion): number {
  return region.start + region.sizeBytes;
}

export function pageDown(va: number): number {
  return va - (va % PAGE_SIZE);
}

export function sameProtection(a: Protection, b: Protection): boolean {
  return a.write === b.write && a.user === b.user && a.execute === b.execute;
}

export function describeProtection(p: Protection): string {
  return `${p.write ? "rw" : "r-"}${p.user ? "u" : "s"}${p.execute ? "x" : "-"}`;
}

/** The byte the suite puts at physical address `pa` of a frame it maps as "fixed": never 0. */
export function fixedPatternByte(pa: number): number {
  let h = Math.imul((pa >>> 0) ^ Math.floor(pa / 0x100000000), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return ((h >>> 0) % 255) + 1;
}

/** Fills a whole frame with its fixed pattern through the physical memory. */
export function fillFixedPattern(
  memory: { write32(addr: number, value: number): void },
  frame: number,
): void {
  for (let offset = 0; offset < PAGE_SIZE; offset += 4) {
    const pa = frame + offset;
    const word =
      fixedPatternByte(pa) |
      (fixedPatternByte(pa + 1) << 8) |
      (fixedPatternByte(pa + 2) << 16) |
      (fixedPatternByte(pa + 3) << 24);
    memory.write32(pa, word >>> 0);
  }
}

/** One address space of the model. */
export class ModelSpace {
  /** Regions sorted by extent start (baseline ones included). */
  regions: ModelRegion[] = [];
  /** Usable pages of the suite's non-guard regions, by page address. */
  readonly pages = new Map<number, ModelPage>();
  /** Pages the suite removed (unmap), with the step that removed them. */
  readonly gone = new Map<number, string>();
  /** Last protect / decommit of a page, for reports. */
  readonly changed = new Map<number, string>();
  destroyed = false;

  constructor(
    readonly space: AddressSpace,
    readonly label: string,
  ) {}

  get kernel(): boolean {
    return this.space.kernel;
  }
  get low(): number {
    return this.space.low;
  }
  get high(): number {
    return this.space.high;
  }
  contains(va: number): boolean {
    return va >= this.space.low && va < this.space.high;
  }

  /** Adopts regions that exist before the suite touches the space. */
  adoptBaseline(regions: readonly Region[]): void {
    for (const r of regions) {
      this.regions.push({
        start: r.start,
        sizeBytes: r.sizeBytes,
        kind: r.kind,
        protection: { ...r.protection },
        guardBytes: r.guardBytes,
        physical: r.physical,
        baseline: true,
        label: `boot "${r.name}"`,
      });
    }
    this.sortRegions();
  }

  /** The suite's own regions (not baseline ones). */
  ownRegions(): ModelRegion[] {
    return this.regions.filter((r) => !r.baseline);
  }

  regionAt(va: number): ModelRegion | undefined {
    for (const r of this.regions) if (va >= extentStart(r) && va < regionEnd(r)) return r;
    return undefined;
  }

  /** True when no region's extent meets `[start, end)`, which lies inside the space. */
  isFree(start: number, end: number): boolean {
    if (start < this.low || end > this.high || start >= end) return false;
    for (const r of this.regions) if (extentStart(r) < end && regionEnd(r) > start) return false;
    return true;
  }

  sortRegions(): void {
    this.regions.sort((a, b) => extentStart(a) - extentStart(b));
  }

  /** Adds a region the VMM mapped; its usable pages start fresh (or committed). */
  addRegion(region: ModelRegion, committed: boolean): void {
    this.regions.push(region);
    this.sortRegions();
    for (let va = extentStart(region); va < regionEnd(region); va += PAGE_SIZE) {
      this.gone.delete(va);
      this.changed.delete(va);
    }
    if (region.kind === "guard") return;
    for (let i = 0; i < region.sizeBytes / PAGE_SIZE; i++) {
      const va = region.start + i * PAGE_SIZE;
      this.pages.set(va, {
        written: undefined,
        committed: committed && region.kind !== "fixed",
        fixedFrame: region.physical === undefined ? undefined : region.physical + i * PAGE_SIZE,
      });
    }
  }

  /**
   * Removes `[a, b)` from every suite region it meets, splitting them; returns the removed
   * pages (for their fixed frames). The guard of a stack stays with the piece holding `start`;
   * callers never cut a guard off its first usable page (see `snapUnmapRange`).
   */
  removeRange(a: number, b: number, why: string): ModelPage[] {
    const removed: ModelPage[] = [];
    const kept: ModelRegion[] = [];
    for (const r of this.regions) {
      const e = extentStart(r);
      const end = regionEnd(r);
      if (r.baseline || b <= e || a >= end) {
        kept.push(r);
        continue;
      }
      if (a > r.start) kept.push(piece(r, r.start, Math.min(a, end), r.guardBytes));
      if (b < end) {
        const upper = Math.max(b, r.start);
        kept.push(piece(r, upper, end, upper === r.start && b <= e ? r.guardBytes : 0));
      }
      for (let va = Math.max(a, e); va < Math.min(b, end); va += PAGE_SIZE) {
        this.gone.set(va, `${why} (it was in region ${r.label})`);
        this.changed.delete(va);
        const page = this.pages.get(va);
        if (page !== undefined) {
          removed.push(page);
          this.pages.delete(va);
        }
      }
    }
    this.regions = kept;
    this.sortRegions();
    return removed;
  }

  /** Splits the suite region whose usable part holds `x` strictly inside, at `x`. */
  splitAt(x: number): void {
    const index = this.regions.findIndex((r) => !r.baseline && x > r.start && x < regionEnd(r));
    if (index < 0) return;
    const r = this.regions[index]!;
    this.regions.splice(index, 1, piece(r, r.start, x, r.guardBytes), piece(r, x, regionEnd(r), 0));
  }

  /** Gives every suite region inside `[a, b)` (usable parts) the protection, splitting first. */
  protectRange(a: number, b: number, protection: Protection, why: string): void {
    this.splitAt(a);
    this.splitAt(b);
    for (const r of this.regions) {
      if (!r.baseline && r.start >= a && regionEnd(r) <= b) r.protection = { ...protection };
    }
    for (let va = a; va < b; va += PAGE_SIZE) this.changed.set(va, why);
  }
}

function piece(r: ModelRegion, start: number, end: number, guardBytes: number): ModelRegion {
  return {
    ...r,
    protection: { ...r.protection },
    start,
    sizeBytes: end - start,
    guardBytes,
    physical: r.physical === undefined ? undefined : r.physical + (start - r.start),
  };
}

/**
 * Moves the ends of an unmap range off a stack's guard so that the guard is never cut away
 * from the stack's first usable page (where the guard would then belong is not specified).
 */
export function snapUnmapRange(space: ModelSpace, a: number, b: number): [number, number] {
  for (const r of space.regions) {
    if (r.guardBytes === 0) continue;
    const e = extentStart(r);
    if (a > e && a <= r.start) a = e;
    if (b > e && b < r.start) b = e;
  }
  return [a, b];
}

/** Whether `[a, b)` meets a region the suite must not touch (boot regions). */
export function touchesBaseline(space: ModelSpace, a: number, b: number): boolean {
  return space.regions.some((r) => r.baseline && extentStart(r) < b && regionEnd(r) > a);
}

/** The value the model holds at `va` of `page`, `width` bytes little-endian. */
export function expectedValue(page: ModelPage, va: number, width: number): number {
  const offset = va % PAGE_SIZE;
  let value = 0;
  for (let i = 0; i < width; i++) value += expectedByte(page, offset + i) * 2 ** (8 * i);
  return value;
}

export function expectedByte(page: ModelPage, offset: number): number {
  const written = page.written?.get(offset);
  if (written !== undefined) return written;
  return page.fixedFrame === undefined ? 0 : fixedPatternByte(page.fixedFrame + offset);
}

export function recordWrite(page: ModelPage, va: number, width: number, value: number): void {
  const offset = va % PAGE_SIZE;
  page.written ??= new Map();
  for (let i = 0; i < width; i++)
    page.written.set(offset + i, Math.floor(value / 2 ** (8 * i)) & 0xff);
}
