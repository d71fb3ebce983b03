import { PAGE_SIZE, hex } from "@allockit/core";
import type { MapRequest } from "@allockit/core";
import { isMachineError } from "@allockit/x86-machine";
import { describeThrown } from "../violation.js";
import { TOUCH_OFFSETS, checkedAccess } from "./access.js";
import type { AccessKind, AccessWidth } from "./access.js";
import { BAD_CALL_KINDS, badCall } from "./bad-calls.js";
import { VmmHarness, newVmmCounters } from "./harness.js";
import type { VmmRunCounters } from "./harness.js";
import { regionEnd } from "./model.js";
import type { ModelRegion, ModelSpace } from "./model.js";
import { bootVmmSystem } from "./system.js";
import type { VmmFactory } from "./system.js";
import { verifyAll } from "./verify.js";

/**
 * Deterministic scenarios: the rules the model run covers at random, spelled out once each so
 * that a failure reads as a short story.
 */

/** What a passing scenario did. */
export interface VmmScenarioReport extends VmmRunCounters {
  readonly vmm: string;
}

/** Boots a system, runs `body` over it, then ends the sequence (everything freed). */
function scenario(factory: VmmFactory, body: (h: VmmHarness) => void): VmmScenarioReport {
  const counters = newVmmCounters();
  const h = new VmmHarness(bootVmmSystem(factory), counters, true);
  verifyAll(h, true);
  body(h);
  h.finish();
  return { vmm: h.vmm.name, ...counters };
}

/** A step of a scenario: the action, then every invariant. */
function step<T>(h: VmmHarness, action: () => T): T {
  let result: T | undefined;
  h.run(() => {
    result = action();
  }, true);
  return result as T;
}

function mapOrFail(h: VmmHarness, model: ModelSpace, request: MapRequest): ModelRegion {
  const region = step(h, () => h.map(model, request));
  if (region === undefined) {
    h.fail("map", `${h.describeMap(model, request)} returned 0 on a nearly empty machine`);
  }
  return region;
}

/** An access the scenario expects to succeed (true) or to fault (false). */
function access(
  h: VmmHarness,
  cpu: number,
  cpl: number,
  kind: AccessKind,
  width: AccessWidth,
  va: number,
  expectOk: boolean,
  value = 0x5a5a_0001,
): void {
  const ok = step(h, () => checkedAccess(h, cpu, cpl, kind, width, va, value));
  if (ok !== expectOk) {
    // checkedAccess compares with the model; reaching here means the model disagrees with
    // the scenario, which is a bug of the suite, reported as such.
    h.fail(
      "scenario",
      `the suite's model expected the access to ${expectOk ? "succeed" : "fault"}`,
    );
  }
}

function otherCpu(h: VmmHarness): number {
  return h.cpuCount > 1 ? 1 : 0;
}

/**
 * Kernel mappings are shared: a kernel region mapped while space A is loaded on CPU 0 is
 * reachable (same data) from space B on the other CPU, from a space created afterwards, and
 * unmapping it makes it fault on every CPU, whatever each has loaded.
 */
export function runVmmKernelSharing(factory: VmmFactory): VmmScenarioReport {
  return scenario(factory, (h) => {
    const other = otherCpu(h);
    const a = step(h, () => h.createSpace());
    const b = step(h, () => h.createSpace());
    step(h, () => h.activate(a, 0));
    step(h, () => h.activate(b, other));
    const shared = mapOrFail(h, h.kernel, { kind: "anonymous", sizeBytes: 2 * PAGE_SIZE });
    access(h, 0, 0, "write", 4, shared.start + 8, true, 0x1234_5678);
    access(h, other, 0, "read", 4, shared.start + 8, true);
    // The other way round, and on a committed region: a read first, then a write elsewhere.
    const committed = mapOrFail(h, h.kernel, {
      kind: "heap",
      sizeBytes: PAGE_SIZE,
      commit: true,
    });
    access(h, other, 0, "read", 4, committed.start + 64, true);
    access(h, 0, 0, "write", 4, committed.start + 64, true, 0xcafe_f00d);
    access(h, other, 0, "read", 4, committed.start + 64, true);
    const c = step(h, () => h.createSpace());
    step(h, () => h.activate(c, other));
    access(h, other, 0, "read", 4, shared.start + 8, true);
    access(h, other, 3, "read", 4, shared.start + 8, false);
    step(h, () => h.unmap(h.kernel, shared.start, regionEnd(shared)));
    access(h, 0, 0, "read", 4, shared.start + 8, false);
    access(h, other, 0, "read", 4, shared.start + 8, false);
  });
}

/**
 * Rights in a user space: CPL 3 may not read or write a supervisor page (AccessFault with the
 * address, the access and CPL 3), nor write a read-only user page, nor touch the kernel half;
 * CPL 0 may use the supervisor page, CPL 3 the user pages.
 */
export function runVmmUserSupervisor(factory: VmmFactory): VmmScenarioReport {
  return scenario(factory, (h) => {
    const a = step(h, () => h.createSpace());
    step(h, () => h.activate(a, 0));
    const rw = { write: true, user: false, execute: false };
    const supervisor = mapOrFail(h, a, { kind: "anonymous", sizeBytes: PAGE_SIZE, protection: rw });
    const user = mapOrFail(h, a, {
      kind: "anonymous",
      sizeBytes: PAGE_SIZE,
      protection: { ...rw, user: true },
    });
    const readOnly = mapOrFail(h, a, {
      kind: "anonymous",
      sizeBytes: PAGE_SIZE,
      protection: { write: false, user: true, execute: false },
    });
    const kernelPage = mapOrFail(h, h.kernel, { kind: "anonymous", sizeBytes: PAGE_SIZE });
    access(h, 0, 0, "write", 4, supervisor.start + 16, true, 0x0bad_cafe);
    access(h, 0, 3, "read", 4, supervisor.start + 16, false);
    access(h, 0, 3, "write", 1, supervisor.start + 17, false, 0x77);
    access(h, 0, 3, "write", 4, user.start + 32, true, 0x1357_9bdf);
    access(h, 0, 3, "read", 1, user.start + 33, true);
    access(h, 0, 3, "read", 4, readOnly.start, true);
    access(h, 0, 3, "write", 4, readOnly.start, false, 0x2468_ace0);
    access(h, 0, 0, "write", 4, readOnly.start, false, 0x2468_ace0);
    access(h, 0, 3, "read", 4, kernelPage.start, false);
    access(h, 0, 0, "read", 4, kernelPage.start, true);
    // Taking the user bit away: CPL 3 loses the page at once, on every CPU.
    step(h, () => h.activate(a, otherCpu(h)));
    access(h, otherCpu(h), 3, "read", 4, user.start + 32, true);
    step(h, () => h.protect(a, user.start, regionEnd(user), rw));
    access(h, 0, 3, "read", 4, user.start + 32, false);
    access(h, otherCpu(h), 3, "read", 4, user.start + 32, false);
    access(h, otherCpu(h), 0, "read", 4, user.start + 32, true);
  });
}

/** Reads every word of `[start, end)` through a CPU; fails on the first non-zero one. */
function expectZeroPages(
  h: VmmHarness,
  cpu: number,
  cpl: number,
  start: number,
  end: number,
  what: string,
): void {
  const c = h.machine.cpus[cpu]!;
  h.note(`read every word of [${h.format(start)}, ${h.format(end)}) on CPU ${cpu} at CPL ${cpl}`);
  for (let va = start; va < end; va += 4) {
    let value: number;
    try {
      c.setCpl(cpl);
      value = c.read32(va) >>> 0;
    } catch (error) {
      h.fail(
        isMachineError(error) ? "raw-fault" : "unexpected-fault",
        `reading fresh ${what} at ${h.format(va)} threw ${describeThrown(error)}`,
        error,
      );
    } finally {
      c.setCpl(0);
    }
    if (value !== 0) {
      let frame = -1;
      try {
        frame = (h.kernel.contains(va) ? h.kernel : h.loaded[cpu]!).space.translate(va);
      } catch {
        // Only for the message.
      }
      h.fail(
        "not-zeroed",
        `fresh ${what} reads ${hex(value)} at ${h.format(va)} (frame ${frame === -1 ? "?" : hex(frame)}): the frames of freed pages came back without being zeroed`,
      );
    }
  }
}

/** Fills every byte of `[start, end)` through a CPU (the model does not follow: unmapped next). */
function dirty(h: VmmHarness, cpu: number, cpl: number, start: number, end: number): void {
  const c = h.machine.cpus[cpu]!;
  h.note(`fill [${h.format(start)}, ${h.format(end)}) with 0xa5 on CPU ${cpu}`);
  try {
    c.setCpl(cpl);
    c.fill(start, 0xa5, end - start);
  } catch (error) {
    h.fail("unexpected-fault", `filling a writable region threw ${describeThrown(error)}`, error);
  } finally {
    c.setCpl(0);
  }
}

/**
 * Fresh pages read zero: frames dirtied through one region (and fixed frames full of a
 * pattern) are freed, and the regions mapped next over the same frames (the PMM hands freed
 * frames out again) read zero everywhere, demand-zero and committed alike.
 */
export function runVmmFreshZero(factory: VmmFactory): VmmScenarioReport {
  return scenario(factory, (h) => {
    const a = step(h, () => h.createSpace());
    step(h, () => h.activate(a, 0));
    const pages = 8;
    const sizeBytes = pages * PAGE_SIZE;
    for (const model of [a, h.kernel]) {
      const user = !model.kernel;
      const cpl = user ? 3 : 0;
      const rights = { write: true, user, execute: false };
      for (const commit of [false, true]) {
        const used = mapOrFail(h, model, {
          kind: "anonymous",
          sizeBytes,
          protection: rights,
          commit: true,
        });
        dirty(h, 0, cpl, used.start, regionEnd(used));
        step(h, () => h.unmap(model, used.start, regionEnd(used)));
        const fresh = mapOrFail(h, model, { kind: "heap", sizeBytes, protection: rights, commit });
        // Write-first touches: the first fault of each page is a write.
        for (let va = fresh.start; va < regionEnd(fresh); va += PAGE_SIZE) {
          access(h, 0, cpl, "write", 4, va + TOUCH_OFFSETS[1]!, true, 0x1111_1111);
        }
        // Every other word of every page reads zero (checked against the model).
        step(h, () => {
          for (let va = fresh.start; va < regionEnd(fresh); va += PAGE_SIZE) {
            for (let offset = 0; offset < PAGE_SIZE; offset += 4) {
              if (offset !== TOUCH_OFFSETS[1]) checkedAccess(h, 0, cpl, "read", 4, va + offset);
            }
          }
        });
        step(h, () => h.unmap(model, fresh.start, regionEnd(fresh)));
      }
      // Fixed frames full of the suite's pattern, given back, then mapped as fresh memory.
      const frames = step(h, () => h.takeFixedFrames(pages));
      if (frames !== undefined) {
        const fixed = mapOrFail(h, model, {
          kind: "fixed",
          sizeBytes: frames.pages * PAGE_SIZE,
          physical: frames.frame,
          protection: rights,
        });
        step(h, () => h.unmap(model, fixed.start, regionEnd(fixed)));
      }
      const again = mapOrFail(h, model, {
        kind: "stack",
        sizeBytes,
        protection: rights,
        commit: true,
      });
      step(h, () => expectZeroPages(h, 0, cpl, again.start, regionEnd(again), "committed stack"));
      const last = mapOrFail(h, model, { kind: "anonymous", sizeBytes, protection: rights });
      step(h, () => {
        for (let va = last.start; va < regionEnd(last); va += PAGE_SIZE) {
          checkedAccess(h, 0, cpl, "write", 1, va + 4095, 0x42);
        }
      });
    }
  });
}

/**
 * A stack's guard page: part of the region (regionAt finds the stack there), never mapped
 * (translate -1), and every access to it faults, in user and kernel stacks, committed or not;
 * the stack's own pages work up to the last byte.
 */
export function runVmmStackGuard(factory: VmmFactory): VmmScenarioReport {
  return scenario(factory, (h) => {
    const a = step(h, () => h.createSpace());
    step(h, () => h.activate(a, 0));
    const other = otherCpu(h);
    for (const [model, commit] of [
      [a, false],
      [a, true],
      [h.kernel, false],
      [h.kernel, true],
    ] as const) {
      const user = !model.kernel;
      const cpl = user ? 3 : 0;
      const stack = mapOrFail(h, model, {
        kind: "stack",
        sizeBytes: 4 * PAGE_SIZE,
        protection: { write: true, user, execute: false },
        commit,
      });
      const guard = stack.start - PAGE_SIZE;
      step(h, () => {
        const found = model.space.regionAt(stack.start - 1);
        if (found === undefined || found.start !== stack.start || found.guardBytes !== PAGE_SIZE) {
          h.fail(
            "stack-guard",
            `regionAt(${h.format(stack.start - 1)}) is ${found === undefined ? "undefined" : `"${found.name}" at ${h.format(found.start)} with guardBytes ${hex(found.guardBytes)}`}; the guard page below the stack at ${h.format(stack.start)} belongs to it`,
          );
        }
        const pa = model.space.translate(guard);
        if (pa !== -1) {
          h.fail(
            "stack-guard",
            `translate(${h.format(guard)}) of a stack's guard page is ${hex(pa)}, not -1`,
          );
        }
      });
      access(h, 0, cpl, "write", 4, stack.start - 4, false, 0xdead_beef);
      access(h, 0, cpl, "read", 1, guard, false);
      access(h, 0, 0, "read", 4, guard + 2048, false);
      access(h, 0, cpl, "write", 4, regionEnd(stack) - 4, true, 0x0123_4567);
      access(h, 0, cpl, "write", 1, stack.start, true, 0x89);
      if (!user) access(h, other, 0, "write", 4, guard + 8, false, 0x1);
    }
  });
}

/**
 * destroy() gives everything back: after spaces full of regions (committed, touched, spread
 * over the address range so that they need page tables of their own, fixed ones too) are
 * destroyed, the PMM has its free count of boot again. The kernel space cannot be destroyed.
 */
export function runVmmDestroy(factory: VmmFactory): VmmScenarioReport {
  return scenario(factory, (h) => {
    const spaces = [
      step(h, () => h.createSpace()),
      step(h, () => h.createSpace()),
      step(h, () => h.createSpace()),
    ];
    spaces.forEach((model, i) => {
      const cpu = i % h.cpuCount;
      step(h, () => h.activate(model, cpu));
      const rights = { write: true, user: true, execute: false };
      const span = model.high - model.low;
      for (const [k, fraction] of [0, 0.37, 0.93].entries()) {
        const at =
          model.low + Math.floor((span * fraction) / (1 << 22)) * (1 << 22) + (k + 1) * PAGE_SIZE;
        const anon = mapOrFail(h, model, {
          kind: "anonymous",
          sizeBytes: 3 * PAGE_SIZE,
          at,
          protection: rights,
          commit: k === 0,
        });
        for (let va = anon.start; va < regionEnd(anon); va += PAGE_SIZE) {
          access(h, cpu, 3, "write", 4, va + 8, true, 0x7000_0000 + k);
        }
      }
      mapOrFail(h, model, {
        kind: "stack",
        sizeBytes: 4 * PAGE_SIZE,
        protection: rights,
        commit: true,
        topDown: true,
      });
      mapOrFail(h, model, { kind: "guard", sizeBytes: 2 * PAGE_SIZE });
      const heap = mapOrFail(h, model, {
        kind: "heap",
        sizeBytes: 2 * PAGE_SIZE,
        protection: rights,
      });
      access(h, cpu, 0, "read", 4, heap.start, true);
      const frames = step(h, () => h.takeFixedFrames(2));
      if (frames !== undefined) {
        mapOrFail(h, model, {
          kind: "fixed",
          sizeBytes: frames.pages * PAGE_SIZE,
          physical: frames.frame,
          protection: rights,
        });
      }
    });
    step(h, () => {
      let threw = false;
      try {
        h.kernel.space.destroy();
      } catch {
        threw = true;
      }
      if (!threw || h.kernel.space.destroyed) {
        h.fail(
          "destroy",
          `kernelSpace.destroy() ${threw ? "threw but set destroyed" : "returned"}; the kernel space cannot be destroyed`,
        );
      }
      h.note("kernelSpace.destroy() threw, as it must");
    });
    for (const model of spaces) step(h, () => h.destroySpace(model));
  });
}

/** Every call a VMM must refuse, in a user space and in the kernel space, changing nothing. */
export function runVmmBadArguments(factory: VmmFactory): VmmScenarioReport {
  return scenario(factory, (h) => {
    const a = step(h, () => h.createSpace());
    for (const model of [a, h.kernel]) {
      const user = !model.kernel;
      const rights = { write: true, user, execute: false };
      mapOrFail(h, model, { kind: "anonymous", sizeBytes: 2 * PAGE_SIZE, protection: rights });
      mapOrFail(h, model, { kind: "stack", sizeBytes: 2 * PAGE_SIZE, protection: rights });
      const frames = step(h, () => h.takeFixedFrames(1));
      if (frames !== undefined) {
        mapOrFail(h, model, {
          kind: "fixed",
          sizeBytes: PAGE_SIZE,
          physical: frames.frame,
          protection: rights,
        });
      }
      for (const kind of BAD_CALL_KINDS) {
        for (let variant = 0; variant < 6; variant++) {
          const picks = { a: variant, b: variant * 7 + 1, c: variant * 13 + 2 };
          step(h, () => {
            if (!badCall(h, kind, model, picks)) h.note(`${kind}: nothing to aim at`);
          });
        }
      }
    }
  });
}
