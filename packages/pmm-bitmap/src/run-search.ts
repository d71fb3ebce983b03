import { PAGE_SIZE, type FrameRequest } from "@allockit/core";
import type { FrameBitmaps } from "./frame-bitmaps.js";

/**
 * Region-relative start of the lowest free run in `region` satisfying `request` inside the
 * absolute frames `[lowFrame, highFrame)`, or -1.
 *
 * Each round starts at the next free frame (a successor query on the summary levels, so full
 * stretches cost nothing), moves up to the alignment and, when the run would cross a boundary,
 * to that boundary; then it checks the run word by word. A taken frame inside the run moves the
 * search past it, so candidates only increase and the region is walked at most once.
 * Alignment and boundaries are of absolute frame numbers, which may pass 2^32: plain number
 * math here, bit math only on region-relative indices.
 */
export function findRun(
  bitmaps: FrameBitmaps,
  region: number,
  request: FrameRequest,
  lowFrame: number,
  highFrame: number,
): number {
  const count = request.count;
  const base = bitmaps.baseFrame[region]!;
  const from = Math.max(0, lowFrame - base);
  const to = Math.min(bitmaps.frameCount[region]!, highFrame - base);
  if (to - from < count) return -1;
  const alignFrames = request.align / PAGE_SIZE;
  const boundaryFrames = request.boundary / PAGE_SIZE;
  let position = from;
  for (;;) {
    const free = bitmaps.nextFree(region, position);
    if (free < 0) return -1;
    let start = alignUpFrame(base + free, alignFrames) - base;
    if (boundaryFrames > 0) {
      const first = base + start;
      const nextBoundary = first - (first % boundaryFrames) + boundaryFrames;
      // The boundary is at least the run (resolveFrameRequest checks), so one move is enough.
      if (first + count > nextBoundary) start = alignUpFrame(nextBoundary, alignFrames) - base;
    }
    if (start + count > to) return -1;
    const taken = bitmaps.firstTaken(region, start, start + count);
    if (taken >= 0) {
      position = taken + 1;
    } else if (request.fits((base + start) * PAGE_SIZE)) {
      return start;
    } else {
      // Unreachable when the frame math above is right; core's check has the last word.
      position = start + 1;
    }
  }
}

/** Smallest multiple of `alignFrames` at or above `frame`. */
function alignUpFrame(frame: number, alignFrames: number): number {
  const rest = frame % alignFrames;
  return rest === 0 ? frame : frame + (alignFrames - rest);
}
