import { FRAME_OWNERS } from "./owners.js";

/**
 * The physical frame map, run-length encoded: `runs` holds triples (first frame, length in
 * frames, owner id) in address order, adjacent runs of one owner merged. A 64 GiB machine has
 * 16 M frames; its map has as many runs as owner changes, never an entry per frame.
 */
export interface FrameMap {
  pageSize: number;
  /** Frames [firstFrame, endFrame): the firmware map's range. */
  firstFrame: number;
  endFrame: number;
  /** Flat triples: start frame, length in frames, owner id (an index into FRAME_OWNERS). */
  runs: number[];
  /** Frames per owner id. */
  counts: number[];
  /** Whether free frames came from the PMM's isFrameFree (else they count as "other"). */
  exactFree: boolean;
}

/** Builds runs in address order; adjacent runs of one owner merge. */
export class RunBuilder {
  readonly runs: number[] = [];
  readonly counts: number[] = FRAME_OWNERS.map(() => 0);
  private end = -1;

  /** Adds `length` frames from `start` owned by `owner`; starts must not go backwards. */
  add(start: number, length: number, owner: number): void {
    if (length <= 0) return;
    if (start < this.end) throw new Error(`frame runs out of order: ${start} after ${this.end}`);
    const runs = this.runs;
    const last = runs.length - 3;
    if (last >= 0 && this.end === start && runs[last + 2] === owner) {
      runs[last + 1]! += length;
    } else {
      runs.push(start, length, owner);
    }
    this.end = start + length;
    this.counts[owner]! += length;
  }
}

/** Frames per owner id within [from, to) of a frame map. */
export function countOwners(map: FrameMap, from: number, to: number): number[] {
  const counts = FRAME_OWNERS.map(() => 0);
  const runs = map.runs;
  for (let i = 0; i < runs.length; i += 3) {
    const start = runs[i]!;
    const end = start + runs[i + 1]!;
    const low = Math.max(start, from);
    const high = Math.min(end, to);
    if (low < high) counts[runs[i + 2]!]! += high - low;
  }
  return counts;
}

/** The owner id of one frame, or -1 outside the map. */
export function ownerOfFrame(map: FrameMap, frame: number): number {
  const runs = map.runs;
  let low = 0;
  let high = runs.length / 3 - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const start = runs[middle * 3]!;
    if (frame < start) high = middle - 1;
    else if (frame >= start + runs[middle * 3 + 1]!) low = middle + 1;
    else return runs[middle * 3 + 2]!;
  }
  return -1;
}
