import { AllocatorError, GiB, MiB, describeValue } from "@allockit/core";
import type { PageAllocOptions, PageSource } from "@allockit/core";

/**
 * Request flags of `kmalloc`, as bits. VIRTUAL and PHYSICAL say whether the memory must be
 * physically contiguous; a LOW* flag also asks for it to lie entirely below 1 MiB, 16 MiB or
 * 4 GiB (and implies PHYSICAL). CLEAR zeroes the data; PERSISTENT keeps the bucket serving the
 * request from ever going back to the page source.
 */
export const BUCKET_FLAGS = {
  VIRTUAL: 0x01,
  PHYSICAL: 0x02,
  CLEAR: 0x04,
  LOW1MEG: 0x08,
  LOW16MEG: 0x10,
  LOW4GIG: 0x20,
  PERSISTENT: 0x40,
} as const;

/** The name of one request flag. */
export type BucketFlagName = keyof typeof BUCKET_FLAGS;

const { VIRTUAL, PHYSICAL, CLEAR, LOW1MEG, LOW16MEG, LOW4GIG, PERSISTENT } = BUCKET_FLAGS;
/** Every defined flag bit. */
export const ALL_FLAGS = VIRTUAL | PHYSICAL | CLEAR | LOW1MEG | LOW16MEG | LOW4GIG | PERSISTENT;
/** The bits that make a bucket's kind: which requests it may serve. */
export const KIND_MASK = VIRTUAL | PHYSICAL | LOW1MEG | LOW16MEG | LOW4GIG;
const LOW_MASK = LOW1MEG | LOW16MEG | LOW4GIG;

const FLAG_NAMES = Object.keys(BUCKET_FLAGS) as BucketFlagName[];

/** "VIRTUAL|CLEAR" for the bits set in `flags` (unknown bits as hex). */
export function flagNames(flags: number): string {
  const names: string[] = [];
  for (const name of FLAG_NAMES) if ((flags & BUCKET_FLAGS[name]) !== 0) names.push(name);
  const unknown = flags & ~ALL_FLAGS;
  if (unknown !== 0) names.push(`0x${unknown.toString(16)}`);
  return names.length === 0 ? "none" : names.join("|");
}

/**
 * Checks request flags and returns them normalized: exactly one of VIRTUAL / PHYSICAL, at most
 * the tightest LOW* bit (which implies PHYSICAL), plus CLEAR and PERSISTENT as given. No kind
 * bit at all means VIRTUAL. Unknown bits, VIRTUAL|PHYSICAL and VIRTUAL with a LOW* flag raise
 * EINVAL naming the value.
 */
export function normalizeFlags(flags: number, call: string): number {
  if (!Number.isSafeInteger(flags) || flags < 0 || flags > ALL_FLAGS) {
    throw new AllocatorError(
      "EINVAL",
      `${call}: flags ${describeValue(flags)} are not a combination of BUCKET_FLAGS (0x${ALL_FLAGS.toString(16)})`,
      flags,
    );
  }
  const low =
    (flags & LOW1MEG) !== 0 ? LOW1MEG : (flags & LOW16MEG) !== 0 ? LOW16MEG : flags & LOW4GIG;
  if ((flags & VIRTUAL) !== 0 && (flags & (PHYSICAL | LOW_MASK)) !== 0) {
    throw new AllocatorError(
      "EINVAL",
      `${call}: flags ${describeValue(flags)} (${flagNames(flags)}) ask for VIRTUAL and physically contiguous memory at once`,
      flags,
    );
  }
  const kind = low !== 0 ? PHYSICAL | low : (flags & PHYSICAL) !== 0 ? PHYSICAL : VIRTUAL;
  return kind | (flags & (CLEAR | PERSISTENT));
}

/** True for a valid bucket kind: VIRTUAL, or PHYSICAL with at most one LOW* bit. */
export function isBucketKind(kind: number): boolean {
  return (
    kind === VIRTUAL ||
    kind === PHYSICAL ||
    kind === (PHYSICAL | LOW1MEG) ||
    kind === (PHYSICAL | LOW16MEG) ||
    kind === (PHYSICAL | LOW4GIG)
  );
}

/** The physical address a bucket of this kind must end at or below (Infinity: no limit). */
export function limitOf(flags: number): number {
  if ((flags & LOW1MEG) !== 0) return MiB;
  if ((flags & LOW16MEG) !== 0) return 16 * MiB;
  if ((flags & LOW4GIG) !== 0) return 4 * GiB;
  return Infinity;
}

// Page requests per bucket kind, built once so growing allocates no option objects.
const PHYSICAL_PAGES: PageAllocOptions = { physical: {}, commit: true };
const LOW1MEG_PAGES: PageAllocOptions = { physical: { below: MiB }, commit: true };
const LOW16MEG_PAGES: PageAllocOptions = { physical: { below: 16 * MiB }, commit: true };
const LOW4GIG_PAGES: PageAllocOptions = { physical: { below: 4 * GiB }, commit: true };

/** The allocPages options for a bucket of this kind (undefined for a virtual bucket). */
export function pageOptionsFor(flags: number): PageAllocOptions | undefined {
  if ((flags & PHYSICAL) === 0) return undefined;
  if ((flags & LOW1MEG) !== 0) return LOW1MEG_PAGES;
  if ((flags & LOW16MEG) !== 0) return LOW16MEG_PAGES;
  if ((flags & LOW4GIG) !== 0) return LOW4GIG_PAGES;
  return PHYSICAL_PAGES;
}

/**
 * Throws EUNSUPPORTED when `source` cannot give the pages a request of these (normalized)
 * flags needs: physically contiguous runs, and for a LOW* flag, runs below a limit.
 */
export function requireSupport(source: PageSource, flags: number, call: string): void {
  if ((flags & PHYSICAL) === 0) return;
  const constraints = source.physicalConstraints;
  const low = flags & LOW_MASK;
  if (constraints === undefined || (low !== 0 && !constraints.has("below"))) {
    const flag = flagNames(low !== 0 ? low : PHYSICAL);
    throw new AllocatorError(
      "EUNSUPPORTED",
      `${call}: flag ${flag} needs physically contiguous pages${low !== 0 ? " below a limit" : ""}, which this page source cannot give`,
      flags,
    );
  }
}
