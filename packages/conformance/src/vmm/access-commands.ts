import { PAGE_SIZE } from "@allockit/core";
import { TOUCH_OFFSETS, checkedAccess, writeValue } from "./access.js";
import type { AccessKind, AccessWidth } from "./access.js";
import type { VmmHarness } from "./harness.js";
import { regionEnd, snapUnmapRange } from "./model.js";
import type { ModelRegion, ModelSpace } from "./model.js";
import { always } from "./space-commands.js";
import type { VmmCommand } from "./space-commands.js";
import { dataRegions, pageCount, pickOf, pickSpace, resolveTarget } from "./targets.js";
import type { Picks, TargetKind } from "./targets.js";

/**
 * Commands that touch memory through the CPUs: single reads and writes, touching or reading
 * back a whole region, and the TLB probes around unmap / protect / decommit.
 */

export interface AccessSpec {
  readonly kind: AccessKind;
  readonly cpu: number;
  readonly cpl: 0 | 3;
  readonly width: AccessWidth;
  readonly target: TargetKind;
  readonly picks: Picks;
  readonly seed: number;
}

export class AccessCommand implements VmmCommand {
  constructor(readonly spec: AccessSpec) {}
  check = always;
  run(_model: VmmHarness, h: VmmHarness): void {
    h.run(() => {
      const s = this.spec;
      const cpu = s.cpu % h.cpuCount;
      const va = resolveTarget(h, cpu, s.target, s.width, s.picks);
      if (va === undefined) {
        h.note(`${this.toString()} skipped: no ${s.target} target`);
        return;
      }
      checkedAccess(h, cpu, s.cpl, s.kind, s.width, va, writeValue(s.seed, s.width));
    });
  }
  toString(): string {
    const s = this.spec;
    const { a, b, c } = s.picks;
    return `${s.kind}${s.width * 8}(cpu ${s.cpu}, CPL ${s.cpl}, ${s.target} ${a}/${b}/${c}${s.kind === "write" ? `, seed ${s.seed}` : ""})`;
  }
}

/** Loads a region's space on `cpu` (kernel regions are reachable from any space). */
function reach(h: VmmHarness, model: ModelSpace, cpu: number): void {
  if (!model.kernel && h.loaded[cpu] !== model) h.activate(model, cpu);
}

/** A CPL that may touch `region`: 3 for user regions, else 0. */
function cplFor(region: ModelRegion): 0 | 3 {
  return region.protection.user ? 3 : 0;
}

/** Writes the touch pattern into every page of a region, making its frames dirty. */
export class TouchCommand implements VmmCommand {
  constructor(
    readonly space: number,
    readonly pick: number,
    readonly cpu: number,
    readonly seed: number,
  ) {}
  check = always;
  run(_model: VmmHarness, h: VmmHarness): void {
    h.run(() => {
      const model = pickSpace(h, this.space);
      const r = pickOf(
        dataRegions(model).filter((x) => x.protection.write),
        this.pick,
      );
      if (r === undefined) {
        h.note(`${this.toString()} skipped: no writable region`);
        return;
      }
      const cpu = this.cpu % h.cpuCount;
      reach(h, model, cpu);
      h.note(`touch every page of ${h.describeRegion(r)}`);
      let n = this.seed;
      for (let va = r.start; va < regionEnd(r); va += PAGE_SIZE) {
        for (const offset of TOUCH_OFFSETS) {
          checkedAccess(h, cpu, cplFor(r), "write", 4, va + offset, writeValue(n++, 4));
        }
      }
    });
  }
  toString(): string {
    return `touchAll(space pick ${this.space}, writable region[${this.pick}], cpu ${this.cpu})`;
  }
}

/** Reads back everything the suite wrote into a region, through a CPU. */
export class ReadBackCommand implements VmmCommand {
  constructor(
    readonly space: number,
    readonly pick: number,
    readonly cpu: number,
  ) {}
  check = always;
  run(_model: VmmHarness, h: VmmHarness): void {
    h.run(() => {
      const model = pickSpace(h, this.space);
      const r = pickOf(dataRegions(model), this.pick);
      if (r === undefined) {
        h.note(`${this.toString()} skipped: no region`);
        return;
      }
      const cpu = this.cpu % h.cpuCount;
      reach(h, model, cpu);
      h.note(`read back ${h.describeRegion(r)}`);
      for (let va = r.start; va < regionEnd(r); va += PAGE_SIZE) {
        const written = model.pages.get(va)?.written;
        const offsets = new Set<number>(TOUCH_OFFSETS);
        if (written !== undefined) for (const o of written.keys()) offsets.add(o - (o % 4));
        for (const offset of offsets) checkedAccess(h, cpu, cplFor(r), "read", 4, va + offset);
      }
    });
  }
  toString(): string {
    return `readBack(space pick ${this.space}, region[${this.pick}], cpu ${this.cpu})`;
  }
}

export type StaleChange =
  "unmap" | "remap" | "protect-ro" | "protect-kernel" | "protect-rw" | "decommit";
export const STALE_CHANGES: readonly StaleChange[] = [
  "unmap",
  "remap",
  "protect-ro",
  "protect-kernel",
  "protect-rw",
  "decommit",
];

/**
 * The TLB pattern: touch a page on every CPU (filling their TLBs), change it (unmap, unmap and
 * map again, protect, decommit), then touch it again on every CPU. Whatever a CPU still
 * reaches through a stale TLB entry shows as an access the model forbids or a wrong value.
 */
export class StaleProbeCommand implements VmmCommand {
  constructor(
    readonly space: number,
    readonly picks: Picks,
    readonly change: StaleChange,
    readonly reverse: boolean,
    readonly seed: number,
  ) {}
  check = always;
  run(_model: VmmHarness, h: VmmHarness): void {
    h.run(() => {
      const model = pickSpace(h, this.space);
      const r = pickOf(dataRegions(model), this.picks.a);
      if (r === undefined) {
        h.note(`${this.toString()} skipped: no region`);
        return;
      }
      h.counters.staleProbes++;
      const page = r.start + (this.picks.b % pageCount(r)) * PAGE_SIZE;
      const va = page + (this.picks.c % (PAGE_SIZE / 4)) * 4;
      const cpus = Array.from({ length: h.cpuCount }, (_, i) => i);
      if (this.reverse) cpus.reverse();
      h.note(`stale probe: ${this.change} of ${h.format(page)} in ${h.describeRegion(r)}`);
      let seed = this.seed;
      for (const cpu of cpus) {
        reach(h, model, cpu);
        if (r.protection.write)
          checkedAccess(h, cpu, cplFor(r), "write", 4, va, writeValue(seed++, 4));
        checkedAccess(h, cpu, cplFor(r), "read", 4, va);
      }
      const cpl = cplFor(r);
      const end = page + PAGE_SIZE;
      const rights = r.protection;
      switch (this.change) {
        case "unmap":
        case "remap": {
          const [a, b] = snapUnmapRange(model, page, end);
          h.unmap(model, a, b);
          if (this.change === "remap") {
            h.map(model, {
              kind: "anonymous",
              sizeBytes: PAGE_SIZE,
              at: page,
              protection: { write: true, user: rights.user, execute: false },
            });
          }
          break;
        }
        case "protect-ro":
          h.protect(model, page, end, { ...rights, write: false });
          break;
        case "protect-kernel":
          h.protect(model, page, end, { ...rights, user: false, write: !rights.write });
          break;
        case "protect-rw":
          h.protect(model, page, end, { ...rights, write: true });
          break;
        case "decommit":
          if (r.kind === "fixed") h.protect(model, page, end, { ...rights, write: false });
          else h.decommit(model, page, end);
          break;
      }
      for (const cpu of cpus.reverse()) {
        checkedAccess(h, cpu, cpl, "read", 4, va);
        checkedAccess(h, cpu, cpl, "write", 4, va, writeValue(seed++, 4));
        checkedAccess(h, cpu, cpl, "read", 4, va);
      }
    }, true);
  }
  toString(): string {
    const { a, b, c } = this.picks;
    return `staleProbe(space pick ${this.space}, region[${a}] page ${b} word ${c}, ${this.change}${this.reverse ? ", CPUs reversed" : ""})`;
  }
}
