import { PAGE_SIZE, isAllocatorError } from "@allockit/core";
import type { AllocatorErrorCode } from "@allockit/core";
import { mentionsAddress, mentionsDecimal } from "../heap/harness.js";
import { describeThrown } from "../violation.js";
import { formatArgument } from "./format.js";
import type { PmmHarness } from "./harness.js";
import { overlaps } from "./spans.js";
import type { Span } from "./spans.js";

/** Codes a rejected freeFrames may carry. */
export const BAD_FREE_CODES: readonly AllocatorErrorCode[] = ["EDOUBLEFREE", "EFAULT", "EINVAL"];
/** Codes a rejected reserve (of a range holding an allocated frame) may carry. */
export const BAD_RESERVE_CODES: readonly AllocatorErrorCode[] = ["EINVAL", "EFAULT"];

/**
 * A call the PMM must reject with an AllocatorError of one of `codes` whose message names
 * one of `mentions`, changing nothing. With `acceptZero`, returning 0 is also accepted.
 */
export function expectRejected(
  harness: PmmHarness,
  spec: {
    readonly check: string;
    readonly call: string;
    readonly what: string;
    readonly codes: readonly AllocatorErrorCode[];
    readonly mentions: readonly (number | string)[];
    readonly invoke: () => unknown;
    readonly acceptZero?: boolean;
    /** Frames the call aimed at: live runs there get their patterns checked afterwards. */
    readonly near?: Span;
  },
): void {
  const { check, call, what, codes } = spec;
  const before = JSON.stringify(harness.readStats());
  let result: unknown;
  let error: unknown;
  let threw = false;
  try {
    result = spec.invoke();
  } catch (thrown) {
    threw = true;
    error = thrown;
  }
  const label = what === "" ? call : `${call} (${what})`;
  if (!threw) {
    if (!(spec.acceptZero === true && result === 0)) {
      harness.fail(
        check,
        `${label} returned ${formatArgument(result)}; it must throw AllocatorError ${codes.join(" or ")} and change nothing`,
      );
    }
  } else {
    if (!isAllocatorError(error)) {
      harness.fail(check, `${label} threw ${describeThrown(error)}, not an AllocatorError`, error);
    }
    if (!codes.includes(error.code)) {
      harness.fail(
        check,
        `${label} threw code ${error.code}; expected ${codes.join(" or ")}`,
        error,
      );
    }
    const named = spec.mentions.some((value) =>
      typeof value === "string"
        ? error.message.includes(value)
        : mentionsAddress(error.message, value) || mentionsDecimal(error.message, value),
    );
    if (spec.mentions.length > 0 && !named) {
      harness.fail(
        check,
        `${label}: the message "${error.message}" does not name ${spec.mentions.map(formatArgument).join(" or ")}`,
        error,
      );
    }
  }
  const after = JSON.stringify(harness.readStats());
  if (after !== before) {
    harness.fail(
      check,
      `${label} was rejected but changed stats(): before ${before}, after ${after}`,
    );
  }
  harness.runCheck(`after the rejected ${call}`);
  const near = spec.near;
  if (near !== undefined) {
    for (const run of harness.live) {
      const span = { start: run.start, end: run.start + run.frames * PAGE_SIZE };
      if (overlaps(span, { start: near.start - PAGE_SIZE, end: near.end + PAGE_SIZE })) {
        harness.verifyRunPattern(run, 0, run.frames, `after the rejected ${call}`);
      }
    }
  }
  harness.counters.rejectedCalls++;
  harness.note(`${label} -> ${threw && isAllocatorError(error) ? error.code : "0"}`);
}
