import { PAGE_SIZE, isPowerOfTwo } from "@allockit/core";
import type { FrameConstraints } from "@allockit/core";
import { ConformanceViolation } from "../violation.js";
import { createPmm } from "./environment.js";
import type { PmmFactory } from "./environment.js";

export const CONSTRAINT_KEYS: readonly (keyof FrameConstraints)[] = [
  "zone",
  "below",
  "align",
  "boundary",
];

/** What the suite reads from a fresh PMM before testing it. */
export interface PmmProfile {
  readonly name: string;
  readonly contiguous: boolean;
  readonly maxContiguousFrames: number;
  readonly constraints: ReadonlySet<keyof FrameConstraints>;
  readonly pageSizes: readonly number[];
}

/** Reads and checks the declared name and capabilities of a fresh, un-initialised PMM. */
export function profilePmm(factory: PmmFactory): PmmProfile {
  const pmm = createPmm(factory);
  const fail = (message: string): never => {
    throw new ConformanceViolation("properties", message);
  };
  if (typeof pmm.name !== "string" || pmm.name === "") {
    fail(`pmm.name must be a non-empty string, got ${String(pmm.name)}`);
  }
  const caps = pmm.capabilities as Partial<typeof pmm.capabilities> | undefined;
  if (typeof caps !== "object" || caps === null) fail("pmm.capabilities must be an object");
  const { contiguous, maxContiguousFrames, constraints, pageSizes } = caps!;
  if (typeof contiguous !== "boolean") {
    fail(`capabilities.contiguous must be a boolean, got ${String(contiguous)}`);
  }
  if (
    typeof maxContiguousFrames !== "number" ||
    !(Number.isSafeInteger(maxContiguousFrames) || maxContiguousFrames === Infinity) ||
    maxContiguousFrames < 1
  ) {
    fail(
      `capabilities.maxContiguousFrames must be an integer >= 1, got ${String(maxContiguousFrames)}`,
    );
  }
  if (contiguous === true && maxContiguousFrames! < 2) {
    fail(
      `capabilities.contiguous is true but maxContiguousFrames is ${maxContiguousFrames}: a contiguous PMM returns runs of at least 2 frames`,
    );
  }
  if (contiguous === false && maxContiguousFrames !== 1) {
    fail(
      `capabilities.contiguous is false, so maxContiguousFrames must be 1 (it hands out single frames), got ${maxContiguousFrames}`,
    );
  }
  if (!(constraints instanceof Set)) {
    fail("capabilities.constraints must be a Set of constraint names");
  }
  for (const key of constraints!) {
    if (!CONSTRAINT_KEYS.includes(key)) {
      fail(
        `capabilities.constraints holds ${JSON.stringify(key)}, which is not one of ${CONSTRAINT_KEYS.join(", ")}`,
      );
    }
  }
  if (!Array.isArray(pageSizes) || !pageSizes.includes(PAGE_SIZE)) {
    fail(
      `capabilities.pageSizes must be an array including 4096, got ${JSON.stringify(pageSizes)}`,
    );
  }
  for (const size of pageSizes!) {
    if (!isPowerOfTwo(size) || size < PAGE_SIZE) {
      fail(`capabilities.pageSizes holds ${String(size)}, which is not a power of two >= 4096`);
    }
    if (size / PAGE_SIZE > maxContiguousFrames!) {
      fail(
        `capabilities.pageSizes holds ${size} (${size / PAGE_SIZE} frames), more than maxContiguousFrames ${maxContiguousFrames}`,
      );
    }
  }
  return {
    name: pmm.name,
    contiguous: contiguous!,
    maxContiguousFrames: maxContiguousFrames!,
    constraints: new Set(constraints),
    pageSizes: [...pageSizes!],
  };
}
