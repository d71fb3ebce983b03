import { PAGE_SIZE, isAllocatorError } from "@allockit/core";
import type { AllocatorErrorCode, MapRequest } from "@allockit/core";
import { describeThrown } from "../violation.js";
import type { VmmHarness } from "./harness.js";
import { extentStart, regionEnd } from "./model.js";
import type { ModelSpace } from "./model.js";
import { dataRegions, freePage, pickOf, usableRange } from "./targets.js";
import type { Picks } from "./targets.js";

/** Calls a VMM must refuse with a typed error, changing nothing. */
export type BadCallKind =
  /** map at an address inside a region (or a range running into one). */
  | "map-overlap"
  /** map at an address outside the space's [low, high), or running past high. */
  | "map-outside"
  /** map at an address that is not page-aligned. */
  | "map-misaligned"
  /** map with a size that is not a positive multiple of the page size. */
  | "map-bad-size"
  /** map in the kernel space with user: true. */
  | "map-kernel-user"
  /** protect a range that regions do not fully cover. */
  | "protect-uncovered"
  /** commit / decommit a "fixed" region. */
  | "commit-fixed"
  | "decommit-fixed";

export const BAD_CALL_KINDS: readonly BadCallKind[] = [
  "map-overlap",
  "map-outside",
  "map-misaligned",
  "map-bad-size",
  "map-kernel-user",
  "protect-uncovered",
  "commit-fixed",
  "decommit-fixed",
];

const MAP_CODES: readonly AllocatorErrorCode[] = ["EINVAL", "EFAULT"];
const BAD_SIZES: readonly number[] = [
  0,
  -PAGE_SIZE,
  PAGE_SIZE / 2,
  PAGE_SIZE + 1,
  1.5 * PAGE_SIZE,
  Number.NaN,
  Number.POSITIVE_INFINITY,
];

/**
 * A call that must throw AllocatorError with one of `codes`; regions() and the PMM's free
 * count must be what they were (the regular checks after the step compare the rest).
 */
export function expectRejected(
  harness: VmmHarness,
  model: ModelSpace,
  call: string,
  codes: readonly AllocatorErrorCode[],
  invoke: () => unknown,
): void {
  const regions = (): string =>
    JSON.stringify(harness.call(`${model.label}.regions()`, () => model.space.regions()));
  const before = regions();
  const free = harness.freeFrames();
  let result: unknown;
  try {
    result = invoke();
  } catch (error) {
    if (!isAllocatorError(error)) {
      harness.fail(
        "bad-call",
        `${call} threw ${describeThrown(error)}, not an AllocatorError`,
        error,
      );
    }
    if (!codes.includes(error.code)) {
      harness.fail(
        "bad-call",
        `${call} threw code ${error.code} (${error.message}); expected ${codes.join(" or ")}`,
        error,
      );
    }
    if (regions() !== before) {
      harness.fail("bad-call", `${call} was rejected (${error.code}) but changed regions()`);
    }
    const after = harness.freeFrames();
    if (after !== free) {
      harness.fail(
        "bad-call",
        `${call} was rejected (${error.code}) but the PMM's free frames went from ${free} to ${after}`,
      );
    }
    harness.counters.rejectedCalls++;
    harness.note(`${call} -> ${error.code}`);
    return;
  }
  harness.fail(
    "bad-call",
    `${call} returned ${typeof result === "number" ? harness.format(result) : String(result)}; it must throw AllocatorError ${codes.join(" or ")} and change nothing`,
  );
}

function rejectMap(
  harness: VmmHarness,
  model: ModelSpace,
  request: MapRequest,
  why: string,
  codes: readonly AllocatorErrorCode[] = MAP_CODES,
): true {
  const call = `${harness.describeMap(model, request)} (${why})`;
  expectRejected(harness, model, call, codes, () => model.space.map(request));
  return true;
}

/** Makes one bad call of `kind` against `model`; false when nothing fits it now. */
export function badCall(
  harness: VmmHarness,
  kind: BadCallKind,
  model: ModelSpace,
  picks: Picks,
): boolean {
  const page = PAGE_SIZE;
  switch (kind) {
    case "map-overlap": {
      const r = pickOf(model.regions, picks.a);
      if (r === undefined) return false;
      const start = extentStart(r);
      let at = start + (picks.b % ((regionEnd(r) - start) / page)) * page;
      let sizeBytes = page;
      if (picks.c % 2 === 1 && model.isFree(start - page, start)) {
        at = start - page;
        sizeBytes = 2 * page;
      }
      return rejectMap(harness, model, { kind: "anonymous", sizeBytes, at }, `overlaps ${r.label}`);
    }
    case "map-outside": {
      const choice = picks.b % 3;
      if (choice === 0 && model.low >= page) {
        return rejectMap(
          harness,
          model,
          { kind: "anonymous", sizeBytes: page, at: model.low - page },
          "below low",
        );
      }
      if (choice === 1) {
        return rejectMap(
          harness,
          model,
          { kind: "anonymous", sizeBytes: 2 * page, at: model.high - page },
          "runs past high",
        );
      }
      return rejectMap(
        harness,
        model,
        { kind: "anonymous", sizeBytes: page, at: model.high },
        "at high",
      );
    }
    case "map-misaligned": {
      const free = freePage(model, picks);
      if (free === undefined) return false;
      const at = free + 1 + (picks.c % (page - 1));
      return rejectMap(harness, model, { kind: "anonymous", sizeBytes: page, at }, "misaligned at");
    }
    case "map-bad-size": {
      const sizeBytes = BAD_SIZES[picks.a % BAD_SIZES.length]!;
      const request: MapRequest = { kind: picks.b % 2 === 0 ? "anonymous" : "stack", sizeBytes };
      return rejectMap(harness, model, request, "bad size");
    }
    case "map-kernel-user": {
      const request: MapRequest = {
        kind: "anonymous",
        sizeBytes: page,
        protection: { write: picks.a % 2 === 0, user: true, execute: false },
      };
      return rejectMap(harness, harness.kernel, request, "user pages in the kernel space", [
        "EINVAL",
      ]);
    }
    case "protect-uncovered": {
      const r = pickOf(dataRegions(model), picks.a);
      let a: number;
      let b: number;
      if (r !== undefined && model.isFree(regionEnd(r), regionEnd(r) + page)) {
        a = r.start;
        b = regionEnd(r) + page;
      } else {
        const free = freePage(model, picks);
        if (free === undefined) return false;
        a = free;
        b = free + page;
      }
      const protection = { write: picks.b % 2 === 0, user: false, execute: false };
      expectRejected(
        harness,
        model,
        `${model.label}.protect(${harness.describeRange(a, b)}, ${protection.write ? "rw" : "r-"}s-) (not fully covered by regions)`,
        ["EFAULT"],
        () => model.space.protect(a, b - a, protection),
      );
      return true;
    }
    case "commit-fixed":
    case "decommit-fixed": {
      const r = pickOf(
        model.ownRegions().filter((x) => x.kind === "fixed"),
        picks.a,
      );
      if (r === undefined) return false;
      const [a, b] = usableRange(r, picks.b, picks.c);
      const decommit = kind === "decommit-fixed";
      expectRejected(
        harness,
        model,
        `${model.label}.${decommit ? "decommit" : "commit"}(${harness.describeRange(a, b)}) (a fixed region)`,
        ["EINVAL"],
        () => (decommit ? model.space.decommit(a, b - a) : model.space.commit(a, b - a)),
      );
      return true;
    }
  }
}
