import {
  ConformanceViolation,
  runVmmFreshZero,
  runVmmKernelSharing,
  runVmmModel,
} from "@allockit/conformance";
import type { VmmConformanceOptions, VmmFactory } from "@allockit/conformance";
import { MiB, bootSystem } from "@allockit/core";
import type { AddressSpace, PageTableAccess } from "@allockit/core";
import { X86Vmm } from "@allockit/vmm";
import type { InvalidateReason, VmmMode } from "@allockit/vmm";
import { StackPmm } from "@allockit/pmm-stack";
import { Machine } from "@allockit/x86-machine";
import { describe, expect, it } from "vitest";

type VmmClass = new (options: { mode: VmmMode; access: PageTableAccess }) => X86Vmm;

/** Forgets the INVLPG and the shootdown after an unmap: stale translations survive it. */
class SkipsUnmapInvalidateVmm extends X86Vmm {
  protected override invalidate(space: AddressSpace, va: number, reason: InvalidateReason): void {
    if (reason !== "unmap") super.invalidate(space, va, reason);
  }
}

/** Forgets the invalidation after protect or decommit, or both. */
function skipsInvalidateOn(...reasons: InvalidateReason[]): VmmClass {
  return class extends X86Vmm {
    protected override invalidate(space: AddressSpace, va: number, reason: InvalidateReason): void {
      if (!reasons.includes(reason)) super.invalidate(space, va, reason);
    }
  };
}

/** Maps frames as they come from the PMM: whatever the last owner left in them shows through. */
class SkipsZeroingVmm extends X86Vmm {
  protected override zeroFrame(_pa: number): void {}
}

/** Invalidates on the boot CPU only: the other CPU keeps its stale TLB entries. */
class NoShootdownVmm extends X86Vmm {
  protected override invalidate(_space: AddressSpace, va: number): void {
    this.machine.cpus[0]!.invlpg(va);
  }
}

function factory(Vmm: VmmClass, mode: VmmMode, access: PageTableAccess): VmmFactory {
  return () => {
    const machine = new Machine({ ramBytes: 32 * MiB, cpus: 2 });
    const pmm = new StackPmm();
    const vmm = new Vmm({ mode, access });
    bootSystem({ machine, memoryMap: machine.memoryMap, physical: machine.memory, pmm, vmm });
    return { machine, vmm, pmm };
  };
}

/** A fixed seed and a bounded run count: each bug shows within the first sequences. */
const MODEL: VmmConformanceOptions = { numRuns: 200, seed: 20240611 };

/** The violation `run` throws; fails the test when it throws nothing or something else. */
function violation(run: () => unknown): ConformanceViolation {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConformanceViolation);
    return error as ConformanceViolation;
  }
  throw new Error("the suite accepted a broken VMM");
}

// One access strategy per mode, so every mode and every strategy is covered.
const CASES: readonly [VmmMode, PageTableAccess][] = [
  ["32bit", "direct-map"],
  ["pae", "recursive"],
  ["long", "window"],
];

describe("the VMM suite fails on broken VMMs", () => {
  for (const [mode, access] of CASES) {
    describe(`${mode} ${access}`, () => {
      it("catches a VMM that skips INVLPG and the shootdown on unmap", () => {
        const found = violation(() =>
          runVmmModel(factory(SkipsUnmapInvalidateVmm, mode, access), MODEL),
        );
        expect(found.check).toBe("stale-translation");
        expect(found.message).toMatch(/stale translation/);
        expect(found.message).toMatch(/unmapped by step #\d+/);
        // The deterministic kernel-sharing story sees it too.
        const scenario = violation(() =>
          runVmmKernelSharing(factory(SkipsUnmapInvalidateVmm, mode, access)),
        );
        expect(scenario.check).toBe("stale-translation");
      });

      it("catches a VMM that does not zero frames before mapping them", () => {
        const found = violation(() => runVmmModel(factory(SkipsZeroingVmm, mode, access), MODEL));
        expect(found.check).toBe("not-zeroed");
        expect(found.message).toMatch(/non-zero|expected 0/);
        expect(found.message).toMatch(/not zeroed/);
        const scenario = violation(() => runVmmFreshZero(factory(SkipsZeroingVmm, mode, access)));
        expect(scenario.check).toBe("not-zeroed");
      });

      it("catches a VMM that skips the invalidation after protect, or after decommit", () => {
        for (const reason of ["protect", "decommit"] as const) {
          const found = violation(() =>
            runVmmModel(factory(skipsInvalidateOn(reason), mode, access), MODEL),
          );
          expect(found.check).toBe("stale-translation");
          expect(found.message).toMatch(/stale TLB entry|stale translation/);
          expect(found.message).toMatch(
            reason === "protect" ? /protected by step/ : /decommitted by step/,
          );
        }
      });

      it("catches a VMM that invalidates on the boot CPU only (no shootdown)", () => {
        const found = violation(() => runVmmModel(factory(NoShootdownVmm, mode, access), MODEL));
        expect(found.check).toBe("stale-translation");
        expect(found.message).toMatch(/stale translation/);
        expect(found.message).toMatch(/CPU 1/);
      });
    });
  }
});
