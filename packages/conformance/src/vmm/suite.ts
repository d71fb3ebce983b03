import { describe, it } from "vitest";
import { runVmmModel } from "./model-run.js";
import type { VmmModelReport } from "./model-run.js";
import { resolveVmmOptions } from "./options.js";
import type { VmmConformanceOptions } from "./options.js";
import {
  runVmmBadArguments,
  runVmmDestroy,
  runVmmFreshZero,
  runVmmKernelSharing,
  runVmmStackGuard,
  runVmmUserSupervisor,
} from "./scenarios.js";
import type { VmmScenarioReport } from "./scenarios.js";
import type { VmmFactory } from "./system.js";

/** Everything {@link runVmmConformance} checked. */
export interface VmmConformanceReport {
  readonly kernelSharing: VmmScenarioReport;
  readonly userSupervisor: VmmScenarioReport;
  readonly freshZero: VmmScenarioReport;
  readonly stackGuard: VmmScenarioReport;
  readonly destroy: VmmScenarioReport;
  readonly badArguments: VmmScenarioReport;
  readonly model: VmmModelReport;
}

/**
 * Runs the whole VMM suite without vitest (a CLI, a script, a test that expects failure):
 * throws the first {@link ConformanceViolation}, else returns what was checked.
 */
export function runVmmConformance(
  factory: VmmFactory,
  options: VmmConformanceOptions = {},
): VmmConformanceReport {
  const settings = resolveVmmOptions(options);
  return {
    kernelSharing: runVmmKernelSharing(factory),
    userSupervisor: runVmmUserSupervisor(factory),
    freshZero: runVmmFreshZero(factory),
    stackGuard: runVmmStackGuard(factory),
    destroy: runVmmDestroy(factory),
    badArguments: runVmmBadArguments(factory),
    model: runVmmModel(factory, { ...options, seed: settings.seed, numRuns: settings.numRuns }),
  };
}

/**
 * Declares the VMM conformance suite as a vitest `describe(name)` block. Call it at the top
 * level of a test file; `factory` must return a freshly booted system on every call: a
 * machine with two CPUs, the VMM booted over it (paging on, the page-fault handler installed)
 * and the PMM it takes frames from.
 *
 * @example
 * vmmConformance("my-vmm", () => {
 *   const machine = new Machine({ ramBytes: 32 * MiB, cpus: 2 });
 *   const pmm = new StackPmm();
 *   const vmm = new MyVmm();
 *   bootSystem({ machine, memoryMap: machine.memoryMap, physical: machine.memory, pmm, vmm });
 *   return { machine, vmm, pmm };
 * });
 */
export function vmmConformance(
  name: string,
  factory: VmmFactory,
  options: VmmConformanceOptions = {},
): void {
  // Resolved once up front so a bad option or env var fails loudly at collection time, and
  // every test shares one seed.
  const settings = resolveVmmOptions(options);
  const fixed = { ...options, seed: settings.seed, numRuns: settings.numRuns };
  const timeout = settings.timeoutMs;
  describe(name, () => {
    it(
      "shares kernel mappings: made with one space loaded, seen from another on the other CPU",
      () => {
        runVmmKernelSharing(factory);
      },
      timeout,
    );
    it(
      "faults CPL 3 accesses to supervisor pages and writes to read-only pages, with the right report",
      () => {
        runVmmUserSupervisor(factory);
      },
      timeout,
    );
    it(
      "hands out zeroed pages after the same frames were dirtied and freed",
      () => {
        runVmmFreshZero(factory);
      },
      timeout,
    );
    it(
      "keeps a stack's guard page unmapped: every access to it faults",
      () => {
        runVmmStackGuard(factory);
      },
      timeout,
    );
    it(
      "returns every frame when spaces are destroyed; the kernel space cannot be",
      () => {
        runVmmDestroy(factory);
      },
      timeout,
    );
    it(
      "refuses bad map / protect / commit calls with a typed error, changing nothing",
      () => {
        runVmmBadArguments(factory);
      },
      timeout,
    );
    it(
      `keeps every invariant over ${settings.numRuns} random operation sequences (model-based)`,
      () => {
        runVmmModel(factory, fixed);
      },
      timeout,
    );
  });
}
