import { checkLabel } from "@allockit/core";
import type { Memory } from "@allockit/core";
import { NAME_BYTES } from "./layout.js";

/** Longest debug name, in bytes (the 32-byte field keeps a terminating NUL). */
export const NAME_MAX = NAME_BYTES - 1;

/**
 * Throws EINVAL unless `name` is a string of at most 31 printable ASCII characters (0x20 ..
 * 0x7e). Longer or non-ASCII names are refused rather than truncated, so the name a dump shows
 * is always the name the caller gave.
 */
export function checkName(name: unknown, call: string): asserts name is string {
  checkLabel(name, NAME_MAX, call, "name");
}

/**
 * Writes a checked name at `addr`, NUL-terminated. Only the words up to the NUL are written
 * (one word for an empty name): readers stop at the NUL, so the rest of the field is left as is.
 */
export function writeName(memory: Memory, addr: number, name: string): void {
  const length = name.length;
  for (let i = 0; i <= length; i += 4) {
    let word = 0;
    for (let k = 3; k >= 0; k--) {
      const at = i + k;
      word = word * 256 + (at < length ? name.charCodeAt(at) : 0);
    }
    memory.write32(addr + i, word);
  }
}

/** Reads the name at `addr`: bytes up to the first NUL (at most 32). */
export function readName(memory: Memory, addr: number): string {
  let text = "";
  for (let i = 0; i < NAME_BYTES; i++) {
    const byte = memory.read8(addr + i);
    if (byte === 0) break;
    text += String.fromCharCode(byte);
  }
  return text;
}
