import { checkLabel } from "@allockit/core";
import type { Memory } from "@allockit/core";
import { TAG_BYTES, TAG_MAX } from "./layout.js";

/**
 * Tags: the caller's name for an object ("inode", "rx ring"), kept in its record and printed
 * in reports, like the bucket heap's pebble names.
 */

/** Throws EINVAL unless `tag` is a string of at most 31 printable ASCII characters. */
export function checkTag(tag: unknown, call: string): asserts tag is string {
  checkLabel(tag, TAG_MAX, call, "tag");
}

/** The 32-bit little-endian word `index` of a tag as stored (bytes past its end are NUL). */
function tagWord(tag: string, index: number): number {
  let word = 0;
  for (let k = 3; k >= 0; k--) {
    const at = index * 4 + k;
    word = word * 256 + (at < tag.length ? tag.charCodeAt(at) : 0);
  }
  return word;
}

/**
 * Writes a checked tag at `addr`: the words up to and including the one holding its NUL.
 * Readers stop at the NUL, and the checksum only covers those words.
 */
export function writeTag(memory: Memory, addr: number, tag: string): void {
  const words = (tag.length >>> 2) + 1;
  for (let i = 0; i < words; i++) memory.write32(addr + i * 4, tagWord(tag, i));
}

/** Reads the tag at `addr`: bytes up to the first NUL (at most 31). */
export function readTag(memory: Memory, addr: number): string {
  let text = "";
  for (let i = 0; i < TAG_MAX; i++) {
    const byte = memory.read8(addr + i);
    if (byte === 0) break;
    text += String.fromCharCode(byte);
  }
  return text;
}

/** Mixes one word into a running 32-bit hash. */
export function mixWord(hash: number, word: number): number {
  const h = Math.imul(hash ^ word, 0x9e3779b1);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Hash of a tag string, as {@link storedTagHash} computes it from memory. */
export function tagHash(tag: string): number {
  let hash = 0x2545f491;
  const words = (tag.length >>> 2) + 1;
  for (let i = 0; i < words; i++) hash = mixWord(hash, tagWord(tag, i));
  return hash;
}

/** Hash of the tag stored at `addr`, or -1 when it has no NUL within the field. */
export function storedTagHash(memory: Memory, addr: number): number {
  let hash = 0x2545f491;
  for (let i = 0; i < TAG_BYTES; i += 4) {
    const word = memory.read32(addr + i);
    hash = mixWord(hash, word);
    if (
      (word & 0xff) === 0 ||
      (word & 0xff00) === 0 ||
      (word & 0xff0000) === 0 ||
      word >>> 24 === 0
    )
      return hash;
  }
  return -1;
}
