import { AllocatorError } from "@allockit/core";
import type { AllocatorErrorCode } from "@allockit/core";
import { formatReport, relation, summaryLine } from "./report.js";

/** What the guard heap catches. */
export type GuardViolationKind =
  /** An access past the object's end, into the guard page after its run. */
  | "overflow"
  /** An access before the object's start, into the guard page before its run. */
  | "underflow"
  /** A read of a freed object's pages while they are quarantined. */
  | "use-after-free-read"
  /** A write to a freed object's pages while they are quarantined. */
  | "use-after-free-write"
  /** heap_free of a pointer whose object was freed already. */
  | "double-free"
  /** heap_free of a pointer that is not an object's start (interior, slack, foreign). */
  | "invalid-free"
  /** The signature in the slack around an object changed (found on free or by check()). */
  | "slack-corrupted"
  /** The canary word next to an object changed (found on free or by check()). */
  | "canary-corrupted";

/** Every kind, in the order the reports document them. */
export const GUARD_VIOLATION_KINDS: readonly GuardViolationKind[] = [
  "overflow",
  "underflow",
  "use-after-free-read",
  "use-after-free-write",
  "double-free",
  "invalid-free",
  "slack-corrupted",
  "canary-corrupted",
];

/** Where an object sits in its page run. */
export type GuardMode = "right" | "left";

/** Where an address lies relative to an object. */
export type GuardSide = "before" | "within" | "after";

/** A guarded object as its record describes it. */
export interface GuardObjectInfo {
  /** The object's address. */
  readonly address: number;
  /** Its size in bytes (a 0-byte request is placed as 1 byte). */
  readonly size: number;
  readonly align: number;
  readonly mode: GuardMode;
  /** The caller's tag ("" when none was given). */
  readonly tag: string;
  /** Allocation sequence number: 1 for the heap's first allocation. */
  readonly sequence: number;
  /** Free sequence number (1 for the heap's first free), or 0 while the object is live. */
  readonly freedAs: number;
  /** Whether a canary word sits next to it. */
  readonly canary: boolean;
  /** First page of its run, and the run's length in pages. */
  readonly run: number;
  readonly pages: number;
}

/** The error code each kind is raised with. */
export const GUARD_VIOLATION_CODES: Readonly<Record<GuardViolationKind, AllocatorErrorCode>> = {
  overflow: "EFAULT",
  underflow: "EFAULT",
  "use-after-free-read": "EFAULT",
  "use-after-free-write": "EFAULT",
  "double-free": "EDOUBLEFREE",
  "invalid-free": "EFAULT",
  "slack-corrupted": "ECORRUPT",
  "canary-corrupted": "ECORRUPT",
};

const BRAND = Symbol.for("allockit.GuardViolation");

/**
 * A bug the guard heap caught, with everything a report needs: the kind, the faulting address,
 * where it lies relative to the object (`side`, `offset`), the object's size, tag, sequence
 * number, alignment and mode, and `report`, a multi-line text in the manner of a KFENCE report.
 *
 * `offset` counts from the object's start for an address before or within it (so -1 is the
 * byte just before it) and from its end for an address after it (0 is the first byte past it).
 * A pointer in no guarded object (a foreign free) has no object: sequence 0, size 0, tag "".
 */
export class GuardViolation extends AllocatorError {
  readonly kind: GuardViolationKind;
  readonly address: number;
  readonly side: GuardSide;
  readonly offset: number;
  /** The access that faulted, for the fault kinds. */
  readonly access: "read" | "write" | undefined;
  readonly object: GuardObjectInfo | undefined;
  readonly report: string;
  readonly [BRAND] = true;

  constructor(
    kind: GuardViolationKind,
    address: number,
    object: GuardObjectInfo | undefined,
    details: {
      access?: "read" | "write";
      /** The bytes found at `address`, as the report prints them ("[ 0x41 . . ]"). */
      bytes?: string;
      heap?: string;
      cause?: unknown;
    } = {},
  ) {
    const [side, offset] =
      object === undefined ? (["within", 0] as const) : relation(address, object);
    const report = formatReport(kind, address, object, side, offset, details);
    super(
      GUARD_VIOLATION_CODES[kind],
      `${details.heap ?? "heap-guard"}: ${summaryLine(report, address)}`,
      address,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.name = "GuardViolation";
    this.kind = kind;
    this.address = address;
    this.side = side;
    this.offset = offset;
    this.access = details.access;
    this.object = object;
    this.report = report;
  }

  /** The object's size in bytes (0 without an object). */
  get size(): number {
    return this.object?.size ?? 0;
  }
  /** The object's tag ("" without an object or tag). */
  get tag(): string {
    return this.object?.tag ?? "";
  }
  /** The object's allocation sequence number (0 without an object). */
  get sequence(): number {
    return this.object?.sequence ?? 0;
  }
  /** The object's mode (right without an object). */
  get mode(): GuardMode {
    return this.object?.mode ?? "right";
  }
}

/** True for a {@link GuardViolation}, also one raised by another copy of this package. */
export function isGuardViolation(error: unknown): error is GuardViolation {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true
  );
}
