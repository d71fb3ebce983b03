import { PAGE_SIZE, high32, low32 } from "@allockit/core";
import type { Memory } from "@allockit/core";
import { CANARY_BYTES, CANARY_SALT, FLAG_CANARY, FLAG_LEFT, SLACK_BYTE } from "./layout.js";
import { floorTo } from "./words.js";

/**
 * Where an object sits in its page run, and the signature around it.
 *
 * Right mode (the default) pushes the object against the guard page after the run: its start
 * is the run's end minus its size, rounded down to its alignment. The canary word sits just
 * before it, and the rest of the run (the slack before, and the alignment slack after) holds
 * SLACK_BYTE. Left mode starts the object at the run's first byte, against the guard page
 * before the run; the canary follows it and the slack after it holds SLACK_BYTE.
 *
 *   right:  [guard][ slack ... | canary | object | align slack ][guard]
 *   left:   [guard][ object | canary | slack ...                ][guard]
 *
 * The canary is left out when the slack on its side is shorter than a word.
 */

const SLACK_WORD = SLACK_BYTE * 0x01010101;

/** The page run an object lives in: it always starts in the run's first page. */
export function runOf(ptr: number): number {
  return floorTo(ptr, PAGE_SIZE);
}

/** Pages of an object's run. */
export function pagesOf(size: number): number {
  return Math.ceil(size / PAGE_SIZE);
}

/** The object's address in a run of `pages` pages at `run`. */
export function placeObject(
  run: number,
  pages: number,
  size: number,
  align: number,
  left: boolean,
): number {
  if (left) return run;
  const start = run + pages * PAGE_SIZE - size;
  return start - (start % align);
}

/** Whether the canary word fits beside an object placed by {@link placeObject}. */
export function canaryFits(ptr: number, size: number, left: boolean): boolean {
  const run = runOf(ptr);
  return left
    ? run + pagesOf(size) * PAGE_SIZE - (ptr + size) >= CANARY_BYTES
    : ptr - run >= CANARY_BYTES;
}

/** The canary word's address, or -1 when the object has none. */
export function canaryAddress(ptr: number, size: number, flags: number): number {
  if ((flags & FLAG_CANARY) === 0) return -1;
  return (flags & FLAG_LEFT) !== 0 ? ptr + size : ptr - CANARY_BYTES;
}

/** The canary of an object: a 32-bit mix of its address and size. */
export function canaryValue(ptr: number, size: number): number {
  let h = Math.imul(low32(ptr) ^ CANARY_SALT, 0x85ebca6b);
  h ^= Math.imul(high32(ptr) + size, 0xc2b2ae35);
  h ^= h >>> 13;
  h = Math.imul(h, 0x27d4eb2f);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Slack before the object: [runOf(ptr), end). Empty in left mode. */
function slackBeforeEnd(ptr: number, flags: number): number {
  if ((flags & FLAG_LEFT) !== 0) return runOf(ptr);
  return (flags & FLAG_CANARY) !== 0 ? ptr - CANARY_BYTES : ptr;
}

/** Slack after the object: [start, the run's end). */
function slackAfterStart(ptr: number, size: number, flags: number): number {
  return (flags & (FLAG_LEFT | FLAG_CANARY)) === (FLAG_LEFT | FLAG_CANARY)
    ? ptr + size + CANARY_BYTES
    : ptr + size;
}

/** Writes the slack signature and the canary around a freshly placed object. */
export function armSlack(memory: Memory, ptr: number, size: number, flags: number): void {
  const run = runOf(ptr);
  const beforeEnd = slackBeforeEnd(ptr, flags);
  if (beforeEnd > run) memory.fill(run, SLACK_BYTE, beforeEnd - run);
  const afterStart = slackAfterStart(ptr, size, flags);
  const runEnd = run + pagesOf(size) * PAGE_SIZE;
  if (runEnd > afterStart) memory.fill(afterStart, SLACK_BYTE, runEnd - afterStart);
  const canary = canaryAddress(ptr, size, flags);
  if (canary >= 0) memory.write32(canary, canaryValue(ptr, size));
}

/** Address of the first canary byte that differs from the expected canary, or -1. */
export function corruptCanaryByte(
  memory: Memory,
  ptr: number,
  size: number,
  flags: number,
): number {
  const canary = canaryAddress(ptr, size, flags);
  if (canary < 0) return -1;
  const diff = (memory.read32(canary) ^ canaryValue(ptr, size)) >>> 0;
  if (diff === 0) return -1;
  // Lowest differing byte: little-endian, so the lowest set bit's byte.
  return canary + ((31 - Math.clz32(diff & -diff)) >>> 3);
}

/** Address of the first slack byte that is not SLACK_BYTE, or -1 when the slack is intact. */
export function corruptSlackByte(memory: Memory, ptr: number, size: number, flags: number): number {
  const run = runOf(ptr);
  const before = firstMismatch(memory, run, slackBeforeEnd(ptr, flags) - run);
  if (before >= 0) return before;
  const afterStart = slackAfterStart(ptr, size, flags);
  return firstMismatch(memory, afterStart, run + pagesOf(size) * PAGE_SIZE - afterStart);
}

/** First address in [from, from + length) not holding SLACK_BYTE, or -1. */
function firstMismatch(memory: Memory, from: number, length: number): number {
  if (length <= 0) return -1;
  if (length <= 8) {
    for (let i = 0; i < length; i++) if (memory.read8(from + i) !== SLACK_BYTE) return from + i;
    return -1;
  }
  const bytes = memory.readBytes(from, length);
  let i = 0;
  if (bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, length >>> 2);
    let w = 0;
    while (w < words.length && words[w] === SLACK_WORD) w++;
    i = w * 4;
  }
  for (; i < length; i++) if (bytes[i] !== SLACK_BYTE) return from + i;
  return -1;
}
