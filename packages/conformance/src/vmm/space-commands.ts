import { PAGE_SIZE, hex } from "@allockit/core";
import type { MapRequest, Protection, RegionKind } from "@allockit/core";
import type fc from "fast-check";
import { badCall } from "./bad-calls.js";
import type { BadCallKind } from "./bad-calls.js";
import type { VmmHarness } from "./harness.js";
import { extentStart, regionEnd, snapUnmapRange, touchesBaseline } from "./model.js";
import type { ModelRegion, ModelSpace } from "./model.js";
import { addressAt, dataRegions, pageCount, pickOf, pickSpace, usableRange } from "./targets.js";
import type { Picks } from "./targets.js";

/**
 * The random operations of the model run. Model and real system are the same harness object.
 * Spaces, regions and pages are named by picks taken modulo what exists when the command
 * runs (`region[7]`: the 8th modulo their count), so a shrunk sequence stays meaningful; a space
 * pick names a user space two times in three when there is one (see `pickSpace`).
 */
export type VmmCommand = fc.Command<VmmHarness, VmmHarness>;

/** Most user spaces alive at once. */
export const MAX_USER_SPACES = 3;

export const always = (): boolean => true;

/** Creates a space and, when `activateOn` names a CPU, loads it there. */
export class CreateSpaceCommand implements VmmCommand {
  constructor(readonly activateOn: number | undefined) {}
  check(model: Readonly<VmmHarness>): boolean {
    return model.users.length < MAX_USER_SPACES;
  }
  run(_model: VmmHarness, h: VmmHarness): void {
    h.run(() => {
      const model = h.createSpace();
      if (this.activateOn !== undefined) h.activate(model, this.activateOn % h.cpuCount);
    });
  }
  toString(): string {
    return this.activateOn === undefined
      ? "createSpace()"
      : `createSpace() and activate it on cpu ${this.activateOn}`;
  }
}

export class DestroySpaceCommand implements VmmCommand {
  constructor(readonly pick: number) {}
  check(model: Readonly<VmmHarness>): boolean {
    return model.users.length > 0;
  }
  run(_model: VmmHarness, h: VmmHarness): void {
    h.run(() => h.destroySpace(pickOf(h.users, this.pick)!), true);
  }
  toString(): string {
    return `destroy(user[${this.pick}])`;
  }
}

export class ActivateCommand implements VmmCommand {
  constructor(
    readonly space: number,
    readonly cpu: number,
  ) {}
  check = always;
  run(_model: VmmHarness, h: VmmHarness): void {
    h.run(() => h.activate(pickSpace(h, this.space), this.cpu % h.cpuCount));
  }
  toString(): string {
    return `activate(space pick ${this.space}, cpu ${this.cpu})`;
  }
}

export type Placement = "search" | "topDown" | "align" | "at";

/** A free `at` for `sizeBytes` (both stack readings of `at` free), or undefined. */
function chooseAt(
  model: ModelSpace,
  kind: RegionKind,
  sizeBytes: number,
  pick: number,
  fraction: number,
): number | undefined {
  const guard = kind === "stack" ? PAGE_SIZE : 0;
  const candidates: number[] = [];
  const near = pickOf(model.ownRegions(), pick >>> 2);
  if (near !== undefined && pick % 3 !== 0) {
    // Right above a region, or right below one: neighbours test splitting and merging.
    candidates.push(
      pick % 3 === 1 ? regionEnd(near) + guard : extentStart(near) - sizeBytes - guard,
    );
  }
  candidates.push(addressAt(model.low, model.high - sizeBytes - 2 * guard, fraction) + guard);
  return candidates.find((at) => model.isFree(at - guard, at + sizeBytes + guard));
}

export interface MapSpec {
  readonly space: number;
  readonly kind: RegionKind;
  readonly pages: number;
  readonly write: boolean;
  readonly user: boolean;
  readonly defaultProtection: boolean;
  readonly commit: boolean;
  readonly placement: Placement;
  readonly alignShift: number;
  readonly pick: number;
  readonly fraction: number;
}

export class MapCommand implements VmmCommand {
  constructor(readonly spec: MapSpec) {}
  check = always;
  run(_model: VmmHarness, h: VmmHarness): void {
    h.run(() => {
      const s = this.spec;
      const model = pickSpace(h, s.space);
      let pages = s.pages;
      let physical: number | undefined;
      if (s.kind === "fixed") {
        const frames = h.takeFixedFrames(pages);
        if (frames === undefined) {
          h.note(`${this.toString()} skipped: the PMM has no frame for it`);
          return;
        }
        pages = frames.pages;
        physical = frames.frame;
      }
      const request: { -readonly [K in keyof MapRequest]: MapRequest[K] } = {
        kind: s.kind,
        sizeBytes: pages * PAGE_SIZE,
      };
      if (physical !== undefined) request.physical = physical;
      if (!s.defaultProtection) {
        request.protection = { write: s.write, user: s.user && !model.kernel, execute: false };
      }
      if (s.commit && s.kind !== "fixed" && s.kind !== "guard") request.commit = true;
      if (s.placement === "topDown") request.topDown = true;
      if (s.placement === "align" && s.kind !== "stack") request.align = 2 ** s.alignShift;
      if (s.placement === "at") {
        const at = chooseAt(model, s.kind, request.sizeBytes, s.pick, s.fraction);
        if (at === undefined) h.note(`no free place for at, searching instead`);
        else request.at = at;
      }
      const region = h.map(model, request);
      if (region === undefined && physical !== undefined) {
        for (let i = 0; i < pages; i++) h.freeFixedFrame(physical + i * PAGE_SIZE, "map() -> 0");
      }
    }, true);
  }
  toString(): string {
    const s = this.spec;
    const rights = s.defaultProtection
      ? "default rights"
      : `${s.write ? "rw" : "r-"}${s.user ? "u" : "s"}`;
    const place = s.placement === "align" ? `align 2^${s.alignShift}` : s.placement;
    return `map(space pick ${s.space}, ${s.kind}, ${s.pages} pages, ${rights}${s.commit ? ", commit" : ""}, ${place}${s.placement === "at" ? ` pick ${s.pick}/${hex(s.fraction)}` : ""})`;
  }
}

export type UnmapShape = "whole" | "part" | "span" | "gap";

export class UnmapCommand implements VmmCommand {
  constructor(
    readonly space: number,
    readonly shape: UnmapShape,
    readonly picks: Picks,
  ) {}
  check = always;
  run(_model: VmmHarness, h: VmmHarness): void {
    h.run(() => {
      const model = pickSpace(h, this.space);
      const range = this.range(model);
      if (range === undefined) {
        h.note(`${this.toString()} skipped: nothing to unmap there`);
        return;
      }
      h.unmap(model, range[0], range[1]);
    }, true);
  }
  private range(model: ModelSpace): [number, number] | undefined {
    const own = model.ownRegions();
    const { a: pa, b: pb, c: pc } = this.picks;
    const r = pickOf(own, pa);
    if (r === undefined) return undefined;
    let a = extentStart(r);
    let b = regionEnd(r);
    if (this.shape === "part") {
      const pages = (b - a) / PAGE_SIZE;
      const i = pb % pages;
      const j = i + 1 + (pc % (pages - i));
      b = a + j * PAGE_SIZE;
      a += i * PAGE_SIZE;
    } else if (this.shape === "span") {
      // From before r to past a later region: regions and the gaps between them.
      const last = own[Math.min(own.length - 1, own.indexOf(r) + 1 + (pb % 3))]!;
      const before = a - (pc % 3) * PAGE_SIZE;
      const after = regionEnd(last) + ((pc >>> 2) % 3) * PAGE_SIZE;
      if (!touchesBaseline(model, Math.max(model.low, before), Math.min(model.high, after))) {
        a = Math.max(model.low, before);
        b = Math.min(model.high, after);
      } else if (!touchesBaseline(model, a, regionEnd(last))) b = regionEnd(last);
    } else if (this.shape === "gap") {
      // A range of free pages right above r: unmapping it changes nothing.
      a = b;
      b = a + (1 + (pb % 3)) * PAGE_SIZE;
      if (!model.isFree(a, b)) return undefined;
    }
    return snapUnmapRange(model, a, b);
  }
  toString(): string {
    const { a, b, c } = this.picks;
    return `unmap(space pick ${this.space}, ${this.shape} of region[${a}], picks ${b}/${c})`;
  }
}

export type ProtectShape = "one" | "part" | "span";

/** Data regions from `first` on that touch each other with no guard between them. */
function adjacentRun(model: ModelSpace, first: ModelRegion, count: number): ModelRegion[] {
  const run = [first];
  let index = model.regions.indexOf(first);
  while (run.length < count) {
    const next = model.regions[++index];
    const prev = run[run.length - 1]!;
    if (
      next === undefined ||
      next.baseline ||
      next.kind === "guard" ||
      next.guardBytes > 0 ||
      next.start !== regionEnd(prev)
    ) {
      break;
    }
    run.push(next);
  }
  return run;
}

export class ProtectCommand implements VmmCommand {
  constructor(
    readonly space: number,
    readonly shape: ProtectShape,
    readonly picks: Picks,
    readonly write: boolean,
    readonly user: boolean,
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
      let a = r.start;
      let b = regionEnd(r);
      if (this.shape === "part") [a, b] = usableRange(r, this.picks.b, this.picks.c);
      else if (this.shape === "span") {
        const run = adjacentRun(model, r, 2 + (this.picks.b % 3));
        const last = run[run.length - 1]!;
        a = r.start + (this.picks.c % pageCount(r)) * PAGE_SIZE;
        b = regionEnd(last) - ((this.picks.c >>> 4) % pageCount(last)) * PAGE_SIZE;
        if (b <= a) b = regionEnd(last);
      }
      const protection: Protection = {
        write: this.write,
        user: this.user && !model.kernel,
        execute: false,
      };
      h.protect(model, a, b, protection);
    }, true);
  }
  toString(): string {
    const { a, b, c } = this.picks;
    return `protect(space pick ${this.space}, ${this.shape} of region[${a}], picks ${b}/${c}, ${this.write ? "rw" : "r-"}${this.user ? "u" : "s"})`;
  }
}

export class CommitCommand implements VmmCommand {
  constructor(
    readonly decommit: boolean,
    readonly space: number,
    readonly picks: Picks,
  ) {}
  check = always;
  run(_model: VmmHarness, h: VmmHarness): void {
    h.run(() => {
      const model = pickSpace(h, this.space);
      const r = pickOf(
        dataRegions(model).filter((x) => x.kind !== "fixed"),
        this.picks.a,
      );
      if (r === undefined) {
        h.note(`${this.toString()} skipped: no demand-zero region`);
        return;
      }
      const [a, b] = usableRange(r, this.picks.b, this.picks.c);
      if (this.decommit) h.decommit(model, a, b);
      else h.commit(model, a, b);
    });
  }
  toString(): string {
    const { a, b, c } = this.picks;
    return `${this.decommit ? "decommit" : "commit"}(space pick ${this.space}, region[${a}], picks ${b}/${c})`;
  }
}

export class BadCallCommand implements VmmCommand {
  constructor(
    readonly kind: BadCallKind,
    readonly space: number,
    readonly picks: Picks,
  ) {}
  check = always;
  run(_model: VmmHarness, h: VmmHarness): void {
    h.run(() => {
      if (!badCall(h, this.kind, pickSpace(h, this.space), this.picks)) {
        h.note(`${this.toString()} skipped: no target`);
      }
    }, true);
  }
  toString(): string {
    const { a, b, c } = this.picks;
    return `${this.kind}(space pick ${this.space}, picks ${a}/${b}/${c}) [must throw]`;
  }
}
