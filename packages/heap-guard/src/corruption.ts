import { PAGE_SIZE } from "@allockit/core";
import type { Memory } from "@allockit/core";
import { CANARY_BYTES, FLAG_CANARY, SLACK_BYTE } from "./layout.js";
import { readObject } from "./lookup.js";
import { canaryAddress, canaryValue, corruptCanaryByte, corruptSlackByte } from "./placement.js";
import { formatBytes } from "./report.js";
import { GuardViolation } from "./violation.js";

/**
 * Checks the canary, then the slack signature, of the live object at `ptr` (record `record`);
 * returns the violation for the first changed byte, or undefined when both are intact.
 */
export function findCorruption(
  memory: Memory,
  record: number,
  ptr: number,
  size: number,
  flags: number,
): GuardViolation | undefined {
  const canaryByte = corruptCanaryByte(memory, ptr, size, flags);
  if (canaryByte >= 0) {
    const canary = canaryAddress(ptr, size, flags);
    const expected = canaryValue(ptr, size);
    const skip = canaryByte - canary;
    const bytes = formatBytes(
      memory.readBytes(canaryByte, CANARY_BYTES - skip),
      (i) => (expected >>> (8 * (i + skip))) & 0xff,
    );
    return new GuardViolation("canary-corrupted", canaryByte, readObject(memory, record), {
      bytes,
    });
  }
  const slackByte = corruptSlackByte(memory, ptr, size, flags);
  if (slackByte < 0) return undefined;
  const object = readObject(memory, record);
  // Show up to 8 bytes from the first bad one, within the slack it lies in.
  const end =
    slackByte < ptr
      ? ptr - ((flags & FLAG_CANARY) !== 0 ? CANARY_BYTES : 0)
      : object.run + object.pages * PAGE_SIZE;
  const bytes = formatBytes(
    memory.readBytes(slackByte, Math.min(8, end - slackByte)),
    () => SLACK_BYTE,
  );
  return new GuardViolation("slack-corrupted", slackByte, object, { bytes });
}
