import { AllocatorError, PAGE_SIZE, hex } from "@allockit/core";
import { zoneName } from "./zones.js";

/**
 * What the free stacks ask of the allocator around them: is a frame number read from RAM a
 * managed, free frame of the zone it was found in? The stacks never trust their own links.
 */
export interface FreeFrameOwner {
  /** Bitmap bit of `frame` when it is managed, free and in `zone`; otherwise -1. */
  freeBitOf(frame: number, zone: number): number;
}

/**
 * One stack of free frames per zone, kept inside the free frames themselves. Two layouts
 * implement it: BatchedFreeStacks (link pages of many frame numbers) and LinkedFreeStacks (the
 * classic one link per frame).
 */
export interface FreeStacks {
  /** Frames held per zone, link pages included. */
  readonly frames: Float64Array;
  /** Bitmap bit of the frame the last `pop` returned (found while validating it). */
  readonly poppedBit: number;
  /** Puts a free frame on top of the stack of `zone`. */
  push(zone: number, frame: number): void;
  /**
   * Takes the top frame of `zone` (the caller checks `frames[zone] > 0`). A link that is not a
   * managed free frame of the zone raises ECORRUPT before anything changes.
   */
  pop(zone: number): number;
  /**
   * Visits every frame held by `zone`, in stack order, until `visit` returns false. A frame is
   * visited before the walk reads anything stored in it, so `visit` can vet it first. Returns
   * the frames visited. ECORRUPT for a link page holding more entries than fit.
   */
  walk(zone: number, visit: (frame: number) => boolean): number;
  /** Rebuilds the stack of `zone` with only the frames `keep` accepts (order not kept). */
  retain(zone: number, keep: (frame: number) => boolean): void;
}

/** The ECORRUPT raised when a stack link does not hold a managed free frame of its zone. */
export function corruptLink(what: string, frame: number, zone: number): AllocatorError {
  return new AllocatorError(
    "ECORRUPT",
    `${zoneName(zone)} free stack: ${what} ${describeFrame(frame)} is not a managed free frame of the zone`,
    frame,
  );
}

/** A frame number as its physical address, for messages. */
export function describeFrame(frame: number): string {
  return Number.isSafeInteger(frame * PAGE_SIZE)
    ? `frame ${hex(frame * PAGE_SIZE)}`
    : `frame number ${frame}`;
}
