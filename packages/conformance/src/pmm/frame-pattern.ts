import { PAGE_SIZE } from "@allockit/core";
import type { PhysicalMemory } from "@allockit/core";

/**
 * What the suite writes into every frame it holds: 32-bit words at the offsets where a PMM
 * would keep a free-list link or header (the start and the end of the frame) and one in the
 * middle. A PMM keeps its links in free frames only, so these words must survive until the
 * suite frees the frame; a link written into an allocated frame, or a frame handed out twice
 * and written by its other owner, changes them.
 */
export const PATTERN_OFFSETS: readonly number[] = [0, 4, 8, 12, 2048, 4088, 4092];

/** The word at `PATTERN_OFFSETS[k]` of frame `frame` for owner `owner`, generation `generation`. */
export function patternWord(frame: number, owner: number, generation: number, k: number): number {
  const number = frame / PAGE_SIZE;
  let h = Math.imul(number >>> 0, 0x9e3779b1) ^ Math.imul((number / 0x100000000) >>> 0, 0x85ebca6b);
  h ^= Math.imul(owner + 1, 0xc2b2ae35) ^ Math.imul(generation + 1, 0x27d4eb2f);
  h ^= Math.imul(k + 1, 0x165667b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 13;
  return h >>> 0;
}

export function writeFramePattern(
  memory: PhysicalMemory,
  frame: number,
  owner: number,
  generation: number,
): void {
  for (let k = 0; k < PATTERN_OFFSETS.length; k++) {
    memory.write32(frame + PATTERN_OFFSETS[k]!, patternWord(frame, owner, generation, k));
  }
}

/** The first changed word of a frame's pattern, or undefined when it is intact. */
export function checkFramePattern(
  memory: PhysicalMemory,
  frame: number,
  owner: number,
  generation: number,
): { offset: number; expected: number; actual: number } | undefined {
  for (let k = 0; k < PATTERN_OFFSETS.length; k++) {
    const expected = patternWord(frame, owner, generation, k);
    const actual = memory.read32(frame + PATTERN_OFFSETS[k]!) >>> 0;
    if (actual !== expected) return { offset: PATTERN_OFFSETS[k]!, expected, actual };
  }
  return undefined;
}
