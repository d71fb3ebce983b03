import { AllocatorError, describeValue, high32, join64, low32 } from "@allockit/core";

/**
 * Little-endian fields for the boot-information encoders. 64-bit fields are two u32 halves
 * read and written through a DataView; numbers hold them exactly below 2^53, so larger values
 * are refused rather than rounded.
 */

/** A 64-bit field held in a number must stay exact: below 2^53. */
const NUMBER_EXACT_LIMIT = 2 ** 53;

/**
 * Throws EINVAL unless `value` is a non-negative integer below 2^53, the range in which a
 * number holds a u64 field exactly. `what` names the field in the message.
 */
export function checkU64Number(value: unknown, what: string): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new AllocatorError(
      "EINVAL",
      `${what} ${describeValue(value)} is not a non-negative integer`,
      value,
    );
  }
  if (value >= NUMBER_EXACT_LIMIT) {
    throw new AllocatorError(
      "EINVAL",
      `${what} ${describeValue(value)} is 2^53 or more and cannot be held exactly`,
      value,
    );
  }
}

/** Above this, the high half of a u64 makes the value 2^53 or more. */
const HIGH_HALF_EXACT_LIMIT = 2 ** 21;

/** A DataView over exactly the bytes of `bytes` (a Uint8Array or a DataView). */
export function viewOf(bytes: Uint8Array | DataView, what: string): DataView {
  if (bytes instanceof DataView) return bytes;
  if (bytes instanceof Uint8Array) {
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  throw new AllocatorError(
    "EINVAL",
    `${what} ${describeValue(bytes)} is not a Uint8Array or DataView`,
    bytes,
  );
}

export function writeU64(view: DataView, offset: number, value: number, what: string): void {
  checkU64Number(value, what);
  view.setUint32(offset, low32(value), true);
  view.setUint32(offset + 4, high32(value), true);
}

export function readU64(view: DataView, offset: number, what: string): number {
  const low = view.getUint32(offset, true);
  const high = view.getUint32(offset + 4, true);
  if (high >= HIGH_HALF_EXACT_LIMIT) {
    const text = `0x${high.toString(16)}${low.toString(16).padStart(8, "0")}`;
    throw new AllocatorError(
      "EINVAL",
      `${what} ${text} at byte ${offset} is 2^53 or more and cannot be held exactly`,
      text,
    );
  }
  return join64(low, high);
}
