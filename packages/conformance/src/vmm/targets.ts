import { PAGE_SIZE } from "@allockit/core";
import type { VmmHarness } from "./harness.js";
import { extentStart, regionEnd } from "./model.js";
import type { ModelRegion, ModelSpace } from "./model.js";

/**
 * How commands turn their random picks into things that exist now: a space, a region, a page,
 * an address. Picks are taken modulo what exists, so a shrunk sequence stays meaningful when
 * earlier commands are dropped; a pick with nothing to land on resolves to undefined and the
 * command is skipped (and says so in the trace).
 */

/** Where an access command aims. */
export type TargetKind =
  /** A byte the suite wrote, in a space the CPU reaches. */
  | "written"
  /** Any usable page of a suite region the CPU reaches. */
  | "region"
  /** A stack's guard page or a guard region. */
  | "guard"
  /** An address in no region. */
  | "gap"
  /** The page right above or below a region. */
  | "edge"
  /** A page the suite unmapped. */
  | "gone"
  /** A usable page of a kernel region. */
  | "kernel"
  /** A page of another user space's region. */
  | "foreign";

export const TARGET_KINDS: readonly TargetKind[] = [
  "written",
  "region",
  "guard",
  "gap",
  "edge",
  "gone",
  "kernel",
  "foreign",
];

/** Random numbers a target is resolved from. */
export interface Picks {
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

export function pickOf<T>(items: readonly T[], pick: number): T | undefined {
  return items.length === 0 ? undefined : items[pick % items.length];
}

/** A space: a user space two times in three when there is one, else the kernel space. */
export function pickSpace(harness: VmmHarness, pick: number): ModelSpace {
  const users = harness.users;
  if (users.length === 0 || pick % 3 === 0) return harness.kernel;
  return users[Math.floor(pick / 3) % users.length]!;
}

/** Suite regions with usable pages that can hold data (not guard regions). */
export function dataRegions(model: ModelSpace): ModelRegion[] {
  return model.ownRegions().filter((r) => r.kind !== "guard");
}

export function pageCount(region: ModelRegion): number {
  return region.sizeBytes / PAGE_SIZE;
}

/** `[a, b)`: a run of whole usable pages of `region`, chosen by two picks. */
export function usableRange(region: ModelRegion, first: number, length: number): [number, number] {
  const pages = pageCount(region);
  const i = first % pages;
  const j = i + 1 + (length % (pages - i));
  return [region.start + i * PAGE_SIZE, region.start + j * PAGE_SIZE];
}

/** A page-aligned address in `[low, high)` at fraction `pick / 2^32` of the range. */
export function addressAt(low: number, high: number, pick: number): number {
  const pages = Math.floor((high - low) / PAGE_SIZE);
  return low + Math.min(pages - 1, Math.floor(((pick >>> 0) / 0x100000000) * pages)) * PAGE_SIZE;
}

/** A free page of `model`: near a region (pick.b odd) or anywhere in the range. */
export function freePage(model: ModelSpace, picks: Picks): number | undefined {
  const candidates: number[] = [];
  const near = pickOf(model.regions, picks.b);
  if (near !== undefined && picks.b % 2 === 1) {
    candidates.push(regionEnd(near) + (picks.c % 4) * PAGE_SIZE);
    candidates.push(extentStart(near) - (1 + (picks.c % 4)) * PAGE_SIZE);
  }
  candidates.push(addressAt(model.low, model.high, picks.a));
  for (const va of candidates) if (model.isFree(va, va + PAGE_SIZE)) return va;
  // The random page fell into a region: the page after it, if free.
  const hit = model.regionAt(addressAt(model.low, model.high, picks.a));
  if (hit !== undefined) {
    const after = regionEnd(hit);
    if (model.isFree(after, after + PAGE_SIZE)) return after;
  }
  return undefined;
}

function offsetIn(pick: number, width: number): number {
  return (pick % PAGE_SIZE) - ((pick % PAGE_SIZE) % width);
}

/** The address an access from `cpu` aims at, or undefined when nothing fits now. */
export function resolveTarget(
  harness: VmmHarness,
  cpu: number,
  kind: TargetKind,
  width: number,
  picks: Picks,
): number | undefined {
  const visible = harness.visibleSpaces(cpu);
  const loaded = harness.loaded[cpu]!;
  switch (kind) {
    case "written": {
      const pages: [number, Map<number, number>][] = [];
      for (const model of visible) {
        for (const [va, page] of model.pages)
          if (page.written !== undefined) pages.push([va, page.written]);
      }
      const chosen = pickOf(pages, picks.a);
      if (chosen === undefined) return resolveTarget(harness, cpu, "region", width, picks);
      const offsets = [...chosen[1].keys()].sort((x, y) => x - y);
      const offset = offsets[picks.b % offsets.length]!;
      return chosen[0] + offset - (offset % width);
    }
    case "region":
    case "kernel": {
      const spaces = kind === "kernel" ? [harness.kernel] : visible;
      const regions = spaces.flatMap(dataRegions);
      const region = pickOf(regions, picks.a);
      if (region === undefined) return undefined;
      return region.start + (picks.b % pageCount(region)) * PAGE_SIZE + offsetIn(picks.c, width);
    }
    case "guard": {
      const guards: number[] = [];
      for (const model of visible) {
        for (const r of model.ownRegions()) {
          const end = r.kind === "guard" ? regionEnd(r) : r.start;
          for (let va = extentStart(r); va < end; va += PAGE_SIZE) guards.push(va);
        }
      }
      const page = pickOf(guards, picks.a);
      return page === undefined ? undefined : page + offsetIn(picks.c, width);
    }
    case "gap":
    case "edge": {
      const model = picks.a % 3 === 0 || loaded === harness.kernel ? harness.kernel : loaded;
      let page: number | undefined;
      if (kind === "edge") {
        const region = pickOf(model.ownRegions(), picks.b);
        if (region === undefined) return undefined;
        page = picks.c % 2 === 0 ? regionEnd(region) : extentStart(region) - PAGE_SIZE;
        if (!model.isFree(page, page + PAGE_SIZE)) return undefined;
      } else page = freePage(model, picks);
      return page === undefined ? undefined : page + offsetIn(picks.c, width);
    }
    case "gone": {
      const pages: number[] = [];
      for (const model of visible) {
        for (const va of model.gone.keys()) if (model.regionAt(va) === undefined) pages.push(va);
      }
      const page = pickOf(pages, picks.a);
      return page === undefined ? undefined : page + offsetIn(picks.c, width);
    }
    case "foreign": {
      const others = harness.users.filter((u) => u !== loaded);
      const regions = others.flatMap(dataRegions);
      const region = pickOf(regions, picks.a);
      if (region === undefined) return undefined;
      const va = region.start + (picks.b % pageCount(region)) * PAGE_SIZE;
      // Through the loaded space the address may land in one of its own boot regions.
      if (loaded.regionAt(va)?.baseline === true) return undefined;
      return va + offsetIn(picks.c, width);
    }
  }
}
