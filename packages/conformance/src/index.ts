/**
 * @allockit/conformance: the conformance suites, exported so plugin authors run them in their
 * own vitest files. `heapConformance` declares the heap suite; the `run*` functions run the
 * same checks outside vitest and throw a ConformanceViolation on the first broken rule.
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
export {
  DEFAULT_MAX_ALIGN,
  DEFAULT_MAX_COMMANDS,
  DEFAULT_MAX_FAILURE_POINTS,
  DEFAULT_NUM_RUNS,
  DEFAULT_OUT_OF_MEMORY_PAGE_LIMIT,
  FUZZ_RUNS_ENV,
  FUZZ_SEED_ENV,
  resolveHeapOptions,
} from "./heap/options.js";
export type { HeapConformanceOptions, ResolvedHeapOptions } from "./heap/options.js";
export { FOREIGN_KINDS, FREE_ORDERS, HeapHarness, profileHeap } from "./heap/harness.js";
export type {
  FreeOrder,
  ForeignKind,
  HeapProfile,
  HeapRunCounters,
  TrackedBlock,
} from "./heap/harness.js";
export type { BadArgument } from "./heap/bad-arguments.js";
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
export {
  FAILURE_SCRIPT_LENGTH,
  failureScript,
  runFailureInjection,
} from "./heap/failure-injection.js";
export type { FailureInjectionReport, ScriptOperation } from "./heap/failure-injection.js";
export { heapConformance, runHeapConformance } from "./heap/suite.js";
export type { HeapConformanceReport } from "./heap/suite.js";
export { pmmConformance, runPmmConformance } from "./pmm/suite.js";
export type { PmmConformanceReport } from "./pmm/suite.js";
export {
  DEFAULT_PMM_MAX_COMMANDS,
  DEFAULT_PMM_NUM_RUNS,
  resolvePmmOptions,
} from "./pmm/options.js";
export type { PmmConformanceOptions, ResolvedPmmOptions } from "./pmm/options.js";
export { PmmEnvironment, bootLayout, createPmm } from "./pmm/environment.js";
export type { BootLayout, PmmFactory } from "./pmm/environment.js";
export { CONSTRAINT_KEYS, profilePmm } from "./pmm/profile.js";
export type { PmmProfile } from "./pmm/profile.js";
export {
  GENERATED_MAPS,
  STANDARD_MESSY_SHAPE,
  buildMessyMap,
  describeMap,
  messyMapShapeArbitrary,
  presetTestMaps,
  realTestMaps,
  sampleMessyMaps,
  standardTestMap,
} from "./pmm/maps.js";
export type { MessyMapShape, PmmTestMap } from "./pmm/maps.js";
export { REAL_MEMORY_MAPS } from "./pmm/real-maps.js";
export type { RealMemoryMap } from "./pmm/real-maps.js";
export { PmmHarness } from "./pmm/harness.js";
export type { FreedRange, LiveRun, PmmRunCounters } from "./pmm/harness.js";
export type { Span } from "./pmm/spans.js";
export { BAD_FREE_KINDS } from "./pmm/bad-calls.js";
export type { BadFreeKind } from "./pmm/bad-calls.js";
export { planModelGroups, runPmmModel } from "./pmm/model-run.js";
export type { GroupPlan, PmmModelGroup, PmmModelReport } from "./pmm/model-run.js";
export {
  exhaustionTestMaps,
  initTestMaps,
  runPmmBadArguments,
  runPmmBadFrees,
  runPmmExhaustion,
  runPmmInit,
  runPmmPageSizes,
  runPmmReserve,
} from "./pmm/scenarios.js";
export type { PmmInitMapReport, PmmInitReport, PmmScenarioReport } from "./pmm/scenarios.js";
export { vmmConformance, runVmmConformance } from "./vmm/suite.js";
export type { VmmConformanceReport } from "./vmm/suite.js";
export {
  DEFAULT_VMM_MAX_COMMANDS,
  DEFAULT_VMM_NUM_RUNS,
  resolveVmmOptions,
} from "./vmm/options.js";
export type { ResolvedVmmOptions, VmmConformanceOptions } from "./vmm/options.js";
export { SUITE_CPUS, bootVmmSystem } from "./vmm/system.js";
export type { VmmFactory, VmmSystem } from "./vmm/system.js";
export { identifyVmm, runVmmModel, runVmmSequence } from "./vmm/model-run.js";
export type { VmmIdentity, VmmModelReport } from "./vmm/model-run.js";
export {
  runVmmBadArguments,
  runVmmDestroy,
  runVmmFreshZero,
  runVmmKernelSharing,
  runVmmStackGuard,
  runVmmUserSupervisor,
} from "./vmm/scenarios.js";
export type { VmmScenarioReport } from "./vmm/scenarios.js";
export { VmmHarness, newVmmCounters } from "./vmm/harness.js";
export { ModelSpace } from "./vmm/model.js";
export type { ModelPage, ModelRegion } from "./vmm/model.js";
export type { VmmRunCounters } from "./vmm/harness.js";
export { vmmCommandArbitraries } from "./vmm/commands.js";
export type { VmmCommand } from "./vmm/commands.js";
export { BAD_CALL_KINDS } from "./vmm/bad-calls.js";
export type { BadCallKind } from "./vmm/bad-calls.js";
