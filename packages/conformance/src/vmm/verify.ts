import { PAGE_SIZE, hex } from "@allockit/core";
import type { Region } from "@allockit/core";
import { describeThrown } from "../violation.js";
import { TOUCH_OFFSETS } from "./access.js";
import type { VmmHarness } from "./harness.js";
import { describeProtection, expectedByte, extentStart, pageDown, regionEnd } from "./model.js";
import type { ModelPage, ModelRegion, ModelSpace } from "./model.js";

/**
 * The invariants checked after every step: check(), the loaded spaces, the space list, each
 * space's regions against the model, and each known page's translation and contents (read
 * through physical memory, so the checks never fill a TLB).
 */
export function verifyAll(harness: VmmHarness, runCheck: boolean): void {
  if (runCheck) runVmmCheck(harness, "");
  verifyLoaded(harness);
  verifySpaceList(harness);
  const frames = new Map<number, string>();
  for (const model of harness.spaces()) {
    verifyRegions(harness, model);
    verifyPages(harness, model, frames);
  }
}

export function runVmmCheck(harness: VmmHarness, when: string): void {
  try {
    harness.vmm.check();
  } catch (error) {
    harness.fail(
      "check",
      `vmm.check() threw${when === "" ? "" : ` ${when}`}: ${describeThrown(error)}`,
      error,
    );
  }
}

function verifyLoaded(harness: VmmHarness): void {
  for (let cpu = 0; cpu < harness.cpuCount; cpu++) {
    const current = harness.call(`vmm.current(${cpu})`, () => harness.vmm.current(cpu));
    const want = harness.loaded[cpu]!;
    if (current?.id !== want.space.id) {
      harness.fail(
        "current",
        `vmm.current(${cpu}) is space ${String(current?.id)}, but CPU ${cpu} last loaded ${want.label} (id ${want.space.id})`,
      );
    }
  }
}

function verifySpaceList(harness: VmmHarness): void {
  const listed = harness.call("vmm.spaces()", () => harness.vmm.spaces());
  for (const model of harness.spaces()) {
    if (!listed.some((s) => s.id === model.space.id)) {
      harness.fail("spaces", `vmm.spaces() does not list live space ${model.label}`);
    }
  }
  const dead = listed.find((s) => s.destroyed);
  if (dead !== undefined) harness.fail("spaces", `vmm.spaces() lists destroyed space ${dead.id}`);
  const want = harness.baselineSpaces + harness.users.length;
  if (listed.length !== want) {
    harness.fail(
      "spaces",
      `vmm.spaces() lists ${listed.length} spaces; expected ${want} (${harness.baselineSpaces} after boot + ${harness.users.length} live user spaces)`,
    );
  }
}

/** A region reduced to what the model decides, so that merged neighbours compare equal. */
interface CanonicalRegion {
  start: number;
  end: number;
  kind: string;
  guardBytes: number;
  rights: string;
  physical: number | undefined;
}

function canonical(regions: readonly (Region | ModelRegion)[]): CanonicalRegion[] {
  const out: CanonicalRegion[] = [];
  for (const r of regions) {
    const entry: CanonicalRegion = {
      start: r.start - r.guardBytes,
      end: r.start + r.sizeBytes,
      kind: r.kind,
      guardBytes: r.guardBytes,
      // A guard region faults whatever its rights say.
      rights: r.kind === "guard" ? "" : describeProtection(r.protection),
      physical: r.kind === "fixed" ? r.physical : undefined,
    };
    const prev = out[out.length - 1];
    // A VMM may merge neighbours that agree in everything (or keep them apart).
    if (
      prev !== undefined &&
      prev.end === entry.start &&
      prev.kind === entry.kind &&
      entry.guardBytes === 0 &&
      prev.rights === entry.rights &&
      (entry.kind !== "fixed" ||
        (prev.physical !== undefined &&
          prev.physical + (prev.end - prev.start - prev.guardBytes) === entry.physical))
    ) {
      prev.end = entry.end;
      continue;
    }
    out.push(entry);
  }
  return out;
}

function describeCanonical(harness: VmmHarness, r: CanonicalRegion | undefined): string {
  if (r === undefined) return "nothing";
  const guard = r.guardBytes > 0 ? ` (guard ${hex(r.guardBytes)})` : "";
  const physical = r.physical === undefined ? "" : ` -> ${hex(r.physical)}`;
  return `${r.kind} [${harness.format(r.start)}, ${harness.format(r.end)})${guard} ${r.rights}${physical}`;
}

function verifyRegions(harness: VmmHarness, model: ModelSpace): void {
  const space = model.space;
  const real = harness.call(`${model.label}.regions()`, () => space.regions());
  const fail = (message: string): never => harness.fail("regions", `${model.label}: ${message}`);
  let previousEnd = -1;
  let reserved = 0;
  for (const r of real) {
    if (
      !Number.isSafeInteger(r.start) ||
      !Number.isSafeInteger(r.sizeBytes) ||
      r.start % PAGE_SIZE !== 0 ||
      r.sizeBytes <= 0 ||
      r.sizeBytes % PAGE_SIZE !== 0 ||
      !Number.isSafeInteger(r.guardBytes) ||
      r.guardBytes < 0 ||
      r.guardBytes % PAGE_SIZE !== 0
    ) {
      fail(
        `regions() has a malformed region: start ${String(r.start)}, sizeBytes ${String(r.sizeBytes)}, guardBytes ${String(r.guardBytes)}`,
      );
    }
    const e = r.start - r.guardBytes;
    if (e < previousEnd) {
      fail(
        `regions() is not sorted and disjoint: "${r.name}" at ${harness.format(e)} begins before the previous region ends (${harness.format(previousEnd)})`,
      );
    }
    if (e < model.low || r.start + r.sizeBytes > model.high) {
      fail(
        `region "${r.name}" [${harness.format(e)}, ${harness.format(r.start + r.sizeBytes)}) leaves the space's range [${harness.format(model.low)}, ${harness.format(model.high)})`,
      );
    }
    previousEnd = r.start + r.sizeBytes;
    reserved += r.sizeBytes + r.guardBytes;
  }
  const got = canonical(real);
  const want = canonical(model.regions);
  const length = Math.max(got.length, want.length);
  for (let i = 0; i < length; i++) {
    const g = got[i];
    const w = want[i];
    if (
      g === undefined ||
      w === undefined ||
      g.start !== w.start ||
      g.end !== w.end ||
      g.kind !== w.kind ||
      g.guardBytes !== w.guardBytes ||
      g.rights !== w.rights ||
      g.physical !== w.physical
    ) {
      fail(
        `regions() differ from the model (neighbours that agree in everything merged on both sides): entry ${i} is ${describeCanonical(harness, g)}, the model has ${describeCanonical(harness, w)}\n  regions(): ${got.map((r) => describeCanonical(harness, r)).join("; ")}\n  model:     ${want.map((r) => describeCanonical(harness, r)).join("; ")}`,
      );
    }
  }
  const stats = harness.call(`${model.label}.stats()`, () => space.stats());
  if (stats.regions !== real.length || stats.reservedBytes !== reserved) {
    fail(
      `stats() says ${stats.regions} regions and reservedBytes ${hex(stats.reservedBytes)}; regions() lists ${real.length} reserving ${hex(reserved)} (guards included)`,
    );
  }
  for (const r of model.ownRegions()) {
    const at = extentStart(r);
    const found = harness.call(`${model.label}.regionAt(${harness.format(at)})`, () =>
      space.regionAt(at),
    );
    if (
      found === undefined ||
      found.kind !== r.kind ||
      at < found.start - found.guardBytes ||
      at >= found.start + found.sizeBytes
    ) {
      fail(
        `regionAt(${harness.format(at)}) returned ${found === undefined ? "undefined" : `"${found.name}" ${found.kind} at ${harness.format(found.start)}`}; the model has ${harness.describeRegion(r)} there`,
      );
    }
  }
}

function translate(harness: VmmHarness, model: ModelSpace, va: number): number {
  return harness.call(`${model.label}.translate(${harness.format(va)})`, () =>
    model.space.translate(va),
  );
}

function verifyPages(harness: VmmHarness, model: ModelSpace, frames: Map<number, string>): void {
  const memory = harness.machine.memory;
  for (const [va, page] of model.pages) {
    const pa = translate(harness, model, va);
    const where = `${model.label} page ${harness.format(va)}`;
    if (page.fixedFrame !== undefined) {
      if (pa !== page.fixedFrame) {
        harness.fail(
          "translate",
          `translate(${harness.format(va)}) of "fixed" ${where} is ${pa === -1 ? "-1" : hex(pa)}; the region maps it to frame ${hex(page.fixedFrame)}`,
        );
      }
    } else if (pa === -1 && (page.written !== undefined || page.committed)) {
      harness.fail(
        "translate",
        `translate(${harness.format(va)}) is -1, but ${where} was ${page.written !== undefined ? "written" : "committed"} and must stay present`,
      );
    }
    if (pa === -1) continue;
    if (pa % PAGE_SIZE !== 0) {
      harness.fail(
        "translate",
        `translate(${harness.format(va)}) of page-aligned ${where} is ${hex(pa)}, not page-aligned`,
      );
    }
    verifyContents(harness, memory, page, pa, where);
    if (page.written !== undefined || page.fixedFrame !== undefined) {
      const other = frames.get(pa);
      if (other !== undefined) {
        harness.fail(
          "shared-frame",
          `${where} and ${other} both map frame ${hex(pa)}; both were written (or are fixed), so each needs its own frame`,
        );
      }
      frames.set(pa, where);
    }
  }
  for (const r of model.ownRegions()) {
    const guardEnd = r.kind === "guard" ? regionEnd(r) : r.start;
    for (let va = extentStart(r); va < guardEnd; va += PAGE_SIZE) {
      const pa = translate(harness, model, va);
      if (pa !== -1) {
        harness.fail(
          "translate",
          `translate(${harness.format(va)}) is ${hex(pa)}, but the page is a guard of ${harness.describeRegion(r)} and must never be mapped`,
        );
      }
    }
  }
  for (const [va, why] of model.gone) {
    const pa = translate(harness, model, va);
    if (pa !== -1) {
      harness.fail(
        "translate",
        `translate(${harness.format(va)}) of ${model.label} is ${hex(pa)}, but the page was ${why}`,
      );
    }
  }
}

function verifyContents(
  harness: VmmHarness,
  memory: { read8(addr: number): number },
  page: ModelPage,
  frame: number,
  where: string,
): void {
  const check = (offset: number): void => {
    const actual = memory.read8(frame + offset);
    const want = expectedByte(page, offset);
    if (actual !== want) {
      const fresh = page.written === undefined && page.fixedFrame === undefined;
      harness.fail(
        want === 0 ? "not-zeroed" : "contents",
        `${where} (frame ${hex(frame)}) holds ${hex(actual)} at +${hex(offset)}, expected ${hex(want)}${want === 0 ? `: a demand-zero page must read zero${fresh ? " and nothing was written to it" : " where nothing was written"}; the frame was not zeroed before it was mapped` : " (the last value written there, or the fixed pattern)"}`,
      );
    }
  };
  for (const offset of TOUCH_OFFSETS) for (let i = 0; i < 4; i++) check(offset + i);
  if (page.written !== undefined) for (const offset of page.written.keys()) check(offset);
}

/**
 * Right after decommit: each page is unmapped, or maps something that reads zero (the zero
 * page or a fresh frame) where the data was.
 */
export function verifyDecommitted(
  harness: VmmHarness,
  model: ModelSpace,
  before: ReadonlyMap<number, ModelPage>,
  what: string,
): void {
  const memory = harness.machine.memory;
  for (const [va, old] of before) {
    const pa = translate(harness, model, va);
    if (pa === -1) continue;
    const offsets = new Set<number>(old.written?.keys() ?? []);
    for (const offset of TOUCH_OFFSETS) for (let i = 0; i < 4; i++) offsets.add(offset + i);
    for (const offset of offsets) {
      const actual = memory.read8(pageDown(pa) + offset);
      if (actual !== 0) {
        harness.fail(
          "decommit",
          `after ${what}, ${model.label} page ${harness.format(va)} still maps frame ${hex(pageDown(pa))}, which holds ${hex(actual)} at +${hex(offset)}: a decommitted page must be unmapped or read zero`,
        );
      }
    }
  }
}
