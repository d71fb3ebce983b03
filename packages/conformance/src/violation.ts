/**
 * What every conformance check throws. `check` is a stable short name of the rule that broke
 * ("overlap", "pattern", "stats", ...) so tests and reports can tell violations apart; the
 * message says what happened in terms an allocator author can act on.
 */
export class ConformanceViolation extends Error {
  readonly check: string;

  constructor(check: string, message: string, options?: ErrorOptions) {
    super(`[${check}] ${message}`, options);
    this.name = "ConformanceViolation";
    this.check = check;
  }
}

/** True for a {@link ConformanceViolation}, also across copies of this package. */
export function isConformanceViolation(error: unknown): error is ConformanceViolation {
  return (
    error instanceof Error &&
    error.name === "ConformanceViolation" &&
    typeof (error as ConformanceViolation).check === "string"
  );
}

/** Renders any thrown value for a message: an Error by its message, anything else as text. */
export function describeThrown(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
