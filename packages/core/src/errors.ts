/**
 * The one error type of allockit. Every bad value is reported where it enters, with a code and
 * a message that names the value; the allocator's state is left as it was.
 */

/** Error codes, named after the errno values they resemble. */
export type AllocatorErrorCode =
  /** An argument is malformed: negative, NaN or fractional size, bad alignment, bad flags. */
  | "EINVAL"
  /** An address this allocator did not hand out: foreign, interior, outside memory. */
  | "EFAULT"
  /** A block or frame that was already freed is freed again. */
  | "EDOUBLEFREE"
  /** Metadata failed a consistency check (a stray write, a broken link, a bad magic). */
  | "ECORRUPT"
  /** The allocator cannot honour a request it was asked for (a constraint it does not declare). */
  | "EUNSUPPORTED"
  /** Out of memory, only where the caller asked for an error instead of 0. */
  | "ENOMEM"
  /** A plugin could not be loaded: not found, not a manifest, wrong apiVersion, bad options. */
  | "EPLUGIN"
  /** A configuration is invalid. */
  | "ECONFIG";

const BRAND = Symbol.for("allockit.AllocatorError");

/** A typed allocator error: `code` says what went wrong, `value` carries the bad value. */
export class AllocatorError extends Error {
  readonly code: AllocatorErrorCode;
  readonly value: unknown;
  readonly [BRAND] = true;

  constructor(code: AllocatorErrorCode, message: string, value?: unknown, options?: ErrorOptions) {
    super(`${code}: ${message}`, options);
    this.name = "AllocatorError";
    this.code = code;
    this.value = value;
  }
}

/**
 * True for an {@link AllocatorError}, including one thrown by another copy of this package (a
 * plugin that bundles its own core), where `instanceof` would say no.
 */
export function isAllocatorError(error: unknown): error is AllocatorError {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true
  );
}

/** Formats a value for an error message: numbers in decimal and hex, others as JSON. */
export function describeValue(value: unknown): string {
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 0) return `${value} (0x${value.toString(16)})`;
    return String(value);
  }
  if (typeof value === "bigint") return `${value}n (0x${value.toString(16)})`;
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined) return "undefined";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

const FAULT_BRAND = Symbol.for("allockit.AccessFault");

/**
 * A page fault the VMM could not resolve (no region, a guard page, a right the region does not
 * give): code EFAULT, with the structured report in `report` and as `value`.
 */
export class AccessFault extends AllocatorError {
  readonly [FAULT_BRAND] = true;
  readonly report: import("./contracts/vmm.js").FaultReport;

  constructor(report: import("./contracts/vmm.js").FaultReport) {
    super(
      "EFAULT",
      `${report.access} at ${report.formatted} (CPL ${report.cpl}, space ${report.space}${
        report.region === undefined ? ", no region" : `, region "${report.region.name}"`
      }): ${report.reason}`,
      report,
    );
    this.name = "AccessFault";
    this.report = report;
  }
}

/** True for an {@link AccessFault}, also one raised by another copy of this package. */
export function isAccessFault(error: unknown): error is AccessFault {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as Record<symbol, unknown>)[FAULT_BRAND] === true
  );
}
