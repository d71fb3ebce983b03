import { PAGE_SIZE, hex, isAccessFault } from "@allockit/core";
import type { AccessFault } from "@allockit/core";
import { CR0_WP, CR4_SMAP, RFLAGS_AC, isMachineError } from "@allockit/x86-machine";
import { describeThrown } from "../violation.js";
import type { VmmHarness } from "./harness.js";
import { expectedValue, pageDown, recordWrite } from "./model.js";
import type { ModelPage, ModelRegion, ModelSpace } from "./model.js";

/**
 * Data accesses through a CPU, checked against the model: the value a read returns, or the
 * AccessFault (with the right report) the VMM must raise for an access no region allows.
 */

export type AccessKind = "read" | "write";
export type AccessWidth = 1 | 4;

/** What the model says an access must do. */
export interface Expectation {
  readonly allowed: boolean;
  /** Why it must fault, or where it lands. */
  readonly why: string;
  readonly space: ModelSpace | undefined;
  readonly region: ModelRegion | undefined;
  readonly page: ModelPage | undefined;
}

/** The model space an address belongs to, as seen from `cpu`: the kernel half or its own. */
export function spaceFor(harness: VmmHarness, cpu: number, va: number): ModelSpace | undefined {
  if (harness.kernel.contains(va)) return harness.kernel;
  const loaded = harness.loaded[cpu]!;
  return loaded !== harness.kernel && loaded.contains(va) ? loaded : undefined;
}

export function expectAccess(
  harness: VmmHarness,
  cpu: number,
  cpl: number,
  kind: AccessKind,
  va: number,
): Expectation {
  const space = spaceFor(harness, cpu, va);
  const deny = (why: string, region?: ModelRegion): Expectation => ({
    allowed: false,
    why,
    space,
    region,
    page: undefined,
  });
  if (space === undefined) {
    return deny(
      `it lies outside the kernel half and outside the user range of ${harness.loaded[cpu]!.label}, the space CPU ${cpu} has loaded`,
    );
  }
  const region = space.regionAt(va);
  if (region === undefined) return deny(`no region of ${space.label} holds it`);
  const name = harness.describeRegion(region);
  if (region.kind === "guard") return deny(`it lies in guard region ${name}`);
  if (va < region.start) return deny(`it lies in the guard page of stack ${name}`);
  const p = region.protection;
  if (cpl === 3 && !p.user) return deny(`CPL 3 may not touch supervisor region ${name}`);
  const c = harness.machine.cpus[cpu]!;
  if (cpl !== 3 && p.user && (c.cr4 & CR4_SMAP) !== 0 && (c.rflags & RFLAGS_AC) === 0) {
    return deny(`SMAP is on and ${name} is a user region`);
  }
  if (kind === "write" && !p.write && (cpl === 3 || (c.cr0 & CR0_WP) !== 0)) {
    return deny(`${name} is read-only`);
  }
  return { allowed: true, why: `in ${name}`, space, region, page: space.pages.get(pageDown(va)) };
}

/** Runs one access on a CPU at a CPL; CPL goes back to 0 whatever happens. */
function perform(
  harness: VmmHarness,
  cpu: number,
  cpl: number,
  kind: AccessKind,
  width: AccessWidth,
  va: number,
  value: number,
): { value: number } | { fault: AccessFault } {
  const c = harness.machine.cpus[cpu]!;
  const call = describeAccess(harness, cpu, cpl, kind, width, va, value);
  try {
    c.setCpl(cpl);
    if (kind === "read") return { value: width === 1 ? c.read8(va) : c.read32(va) >>> 0 };
    if (width === 1) c.write8(va, value);
    else c.write32(va, value);
    return { value };
  } catch (error) {
    if (isAccessFault(error)) return { fault: error };
    if (isMachineError(error)) {
      harness.fail(
        "raw-fault",
        `${call} raised ${describeThrown(error)}: a fault the VMM cannot resolve must reach its handler and come out as an AccessFault, never as a raw CPU exception`,
        error,
      );
    }
    return harness.fail("unexpected-error", `${call} threw ${describeThrown(error)}`, error);
  } finally {
    c.setCpl(0);
  }
}

export function describeAccess(
  harness: VmmHarness,
  cpu: number,
  cpl: number,
  kind: AccessKind,
  width: AccessWidth,
  va: number,
  value?: number,
): string {
  const bits = width * 8;
  return kind === "read"
    ? `CPU ${cpu} CPL ${cpl} read${bits}(${harness.format(va)})`
    : `CPU ${cpu} CPL ${cpl} write${bits}(${harness.format(va)}, ${hex(value ?? 0)})`;
}

/**
 * One access checked against the model. A write the model allows updates the model; a read
 * must return the model's value. Returns whether the access went through.
 */
export function checkedAccess(
  harness: VmmHarness,
  cpu: number,
  cpl: number,
  kind: AccessKind,
  width: AccessWidth,
  va: number,
  value = 0,
): boolean {
  const expected = expectAccess(harness, cpu, cpl, kind, va);
  const call = describeAccess(harness, cpu, cpl, kind, width, va, value);
  const outcome = perform(harness, cpu, cpl, kind, width, va, value);
  if (kind === "read") harness.counters.reads++;
  else harness.counters.writes++;
  if ("fault" in outcome) {
    const report = outcome.fault.report;
    if (expected.allowed) {
      harness.fail(
        "unexpected-fault",
        `${call} raised AccessFault (${outcome.fault.message}), but the model allows it: it lies ${expected.why}`,
        outcome.fault,
      );
    }
    const loaded = harness.loaded[cpu]!;
    const wrong: string[] = [];
    if (report.address !== va) wrong.push(`address ${harness.format(report.address)}`);
    if (report.access !== kind) wrong.push(`access "${report.access}"`);
    if (report.cpl !== cpl) wrong.push(`cpl ${report.cpl}`);
    if (report.cpu !== cpu) wrong.push(`cpu ${report.cpu}`);
    if (report.space !== loaded.space.id) wrong.push(`space ${report.space}`);
    if (wrong.length > 0) {
      harness.fail(
        "fault-report",
        `${call} faulted as it should (${expected.why}), but the AccessFault report says ${wrong.join(", ")}; expected address ${harness.format(va)}, access "${kind}", cpl ${cpl}, cpu ${cpu}, space ${loaded.space.id} (${loaded.label})`,
        outcome.fault,
      );
    }
    harness.counters.expectedFaults++;
    harness.note(`${call} -> AccessFault (${expected.why})`);
    return false;
  }
  if (!expected.allowed) reportForbiddenSuccess(harness, cpu, call, va, expected);
  const page = expected.page;
  if (page === undefined) {
    // Allowed but outside the suite's own pages: cannot happen, the model only allows those.
    harness.fail("model", `${call} reached ${expected.why}, a page the model does not know`);
  }
  if (tablesView(expected.space, va) === -1) {
    const history = expected.space?.changed.get(pageDown(va));
    harness.fail(
      "stale-translation",
      `${call} went through, but translate(${harness.format(va)}) is -1 right after it: CPU ${cpu} used a stale TLB entry${history === undefined ? "" : ` (the page was ${history})`}; a missing INVLPG or TLB shootdown`,
    );
  }
  if (kind === "write") {
    recordWrite(page, va, width, value);
    harness.note(`${call}`);
    return true;
  }
  const want = expectedValue(page, va, width);
  if (outcome.value !== want)
    reportWrongValue(harness, cpu, call, va, outcome.value, want, expected);
  harness.note(`${call} -> ${hex(outcome.value)}`);
  return true;
}

/** The physical address the CPU uses for `va` now (its TLB first), or -1 when it faults. */
function cpuView(harness: VmmHarness, cpu: number, va: number): number {
  try {
    return harness.machine.cpus[cpu]!.probe(va, "read", { cpl: 0 });
  } catch {
    return -1;
  }
}

function tablesView(space: ModelSpace | undefined, va: number): number {
  if (space === undefined) return -1;
  try {
    return space.space.translate(va);
  } catch {
    return -1;
  }
}

function reportForbiddenSuccess(
  harness: VmmHarness,
  cpu: number,
  call: string,
  va: number,
  expected: Expectation,
): never {
  const page = pageDown(va);
  const space = expected.space;
  const gone = space?.gone.get(page);
  const changed = space?.changed.get(page);
  const tables = tablesView(space, va);
  let diagnosis: string;
  if (gone !== undefined) {
    diagnosis =
      tables === -1
        ? `a stale translation: the page was ${gone} and the page tables no longer map it, yet CPU ${cpu} still reaches it through its TLB (a missing INVLPG or TLB shootdown)`
        : `the page was ${gone}, but the page tables still map it to ${hex(tables)}`;
  } else if (changed !== undefined) {
    diagnosis = `the page was ${changed}; the access succeeding means a stale translation (a missing INVLPG or TLB shootdown) or page-table rights that do not match the region`;
  } else {
    diagnosis = `the page tables ${tables === -1 ? "do not map it (so a stale TLB entry served it)" : `map it to ${hex(tables)}`}`;
  }
  return harness.fail(
    changed !== undefined || gone !== undefined ? "stale-translation" : "missing-fault",
    `${call} succeeded, but it must raise AccessFault: ${expected.why}; ${diagnosis}`,
  );
}

function reportWrongValue(
  harness: VmmHarness,
  cpu: number,
  call: string,
  va: number,
  actual: number,
  want: number,
  expected: Expectation,
): never {
  const used = cpuView(harness, cpu, va);
  const tables = tablesView(expected.space, va);
  const page = pageDown(va);
  const history = expected.space?.changed.get(page) ?? expected.space?.gone.get(page);
  const past = history === undefined ? "" : ` (the page was ${history})`;
  if (used !== -1 && (tables === -1 || pageDown(used) !== pageDown(tables))) {
    harness.fail(
      "stale-translation",
      `${call} returned ${hex(actual)}, expected ${hex(want)}: a stale translation: CPU ${cpu}'s TLB still maps ${harness.format(page)} to frame ${hex(pageDown(used))} while the page tables map it ${tables === -1 ? "nowhere" : `to ${hex(pageDown(tables))}`}${past}; a missing INVLPG or TLB shootdown`,
    );
  }
  if (want === 0) {
    harness.fail(
      "not-zeroed",
      `${call} returned the non-zero value ${hex(actual)}, expected 0: ${expected.why} is demand-zero and nothing was written there${past}; the frame ${tables === -1 ? "" : `${hex(pageDown(tables))} `}was not zeroed before it was mapped`,
    );
  }
  return harness.fail(
    "contents",
    `${call} returned ${hex(actual)}, expected ${hex(want)} (the last value written there, or the fixed pattern)${past}; the page tables map it to ${tables === -1 ? "nothing" : hex(tables)}`,
  );
}

/** Nonzero 32-bit values for writes, from a seed. */
export function writeValue(seed: number, width: AccessWidth): number {
  if (width === 1) return 1 + ((seed >>> 0) % 255);
  const v = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  return v === 0 ? 1 : v;
}

/** Offsets of the words a touch writes into every page (and the content checks sample). */
export const TOUCH_OFFSETS: readonly number[] = [0, 1024, 2048, 3072, PAGE_SIZE - 4];
