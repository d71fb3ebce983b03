/**
 * @allockit/conformance/run: every check of the heap, PMM and VMM suites as plain functions,
 * without the vitest `describe` blocks, so a script or the allockit CLI can run them where
 * vitest is not installed. Each check throws a ConformanceViolation on the first broken rule
 * and otherwise returns what it did.
 */
export { ConformanceViolation, isConformanceViolation } from "./violation.js";
export {
  DEFAULT_FLAT_MEMORY_BYTES,
  DEFAULT_HEAP_REGION_BYTES,
  flatHeapFactory,
  vmmHeapFactory,
} from "./heap/factory.js";
export type {
  FlatHeapFactoryOptions,
  VmmHeapFactoryOptions,
  HeapEnvironment,
  HeapFactory,
  HeapUnderTest,
} from "./heap/factory.js";
export { DEFAULT_NUM_RUNS, resolveHeapOptions } from "./heap/options.js";
export type { HeapConformanceOptions, ResolvedHeapOptions } from "./heap/options.js";
export { profileHeap } from "./heap/harness.js";
export type { HeapProfile } from "./heap/harness.js";
export { runHeapModel } from "./heap/model-run.js";
export type { HeapModelReport } from "./heap/model-run.js";
export {
  runAlignmentSweep,
  runBadArgumentTable,
  runBadPointerTable,
  runOutOfMemory,
  runReleaseScenario,
} from "./heap/scenarios.js";
export type { ScenarioReport } from "./heap/scenarios.js";
export { runFailureInjection } from "./heap/failure-injection.js";
export type { FailureInjectionReport } from "./heap/failure-injection.js";
export { DEFAULT_PMM_NUM_RUNS, resolvePmmOptions } from "./pmm/options.js";
export type { PmmConformanceOptions, ResolvedPmmOptions } from "./pmm/options.js";
export type { PmmFactory } from "./pmm/environment.js";
export { profilePmm } from "./pmm/profile.js";
export type { PmmProfile } from "./pmm/profile.js";
export { runPmmModel } from "./pmm/model-run.js";
export type { PmmModelReport } from "./pmm/model-run.js";
export {
  runPmmBadArguments,
  runPmmBadFrees,
  runPmmExhaustion,
  runPmmInit,
  runPmmPageSizes,
  runPmmReserve,
} from "./pmm/scenarios.js";
export type { PmmInitReport, PmmScenarioReport } from "./pmm/scenarios.js";
export { DEFAULT_VMM_NUM_RUNS, resolveVmmOptions } from "./vmm/options.js";
export type { ResolvedVmmOptions, VmmConformanceOptions } from "./vmm/options.js";
export type { VmmFactory, VmmSystem } from "./vmm/system.js";
export { runVmmModel } from "./vmm/model-run.js";
export type { VmmModelReport } from "./vmm/model-run.js";
export {
  runVmmBadArguments,
  runVmmDestroy,
  runVmmFreshZero,
  runVmmKernelSharing,
  runVmmStackGuard,
  runVmmUserSupervisor,
} from "./vmm/scenarios.js";
export type { VmmScenarioReport } from "./vmm/scenarios.js";
