/**
 * @allockit/conformance: the conformance suites, exported so plugin authors run them in their
 * own vitest files. `heapConformance` declares the heap suite; the `run*` functions run the
 * same checks outside vitest and throw a ConformanceViolation on the first broken rule.
 * Everything of the vitest-free entry (`@allockit/conformance/run`) is here too; what follows
 * it is the vitest suites and the pieces the suites are built from.
 */
export * from "./run.js";
export {
  DEFAULT_MAX_ALIGN,
  DEFAULT_MAX_COMMANDS,
  DEFAULT_MAX_FAILURE_POINTS,
  DEFAULT_OUT_OF_MEMORY_PAGE_LIMIT,
  FUZZ_RUNS_ENV,
  FUZZ_SEED_ENV,
} from "./heap/options.js";
export { FOREIGN_KINDS, FREE_ORDERS, HeapHarness } from "./heap/harness.js";
export type { FreeOrder, ForeignKind, HeapRunCounters, TrackedBlock } from "./heap/harness.js";
export type { BadArgument } from "./heap/bad-arguments.js";
export { FAILURE_SCRIPT_LENGTH, failureScript } from "./heap/failure-injection.js";
export type { ScriptOperation } from "./heap/failure-injection.js";
export { heapConformance, runHeapConformance } from "./heap/suite.js";
export type { HeapConformanceReport } from "./heap/suite.js";
export { pmmConformance, runPmmConformance } from "./pmm/suite.js";
export type { PmmConformanceReport } from "./pmm/suite.js";
export { DEFAULT_PMM_MAX_COMMANDS } from "./pmm/options.js";
export { PmmEnvironment, bootLayout, createPmm } from "./pmm/environment.js";
export type { BootLayout } from "./pmm/environment.js";
export { CONSTRAINT_KEYS } from "./pmm/profile.js";
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
export { planModelGroups } from "./pmm/model-run.js";
export type { GroupPlan, PmmModelGroup } from "./pmm/model-run.js";
export { exhaustionTestMaps, initTestMaps } from "./pmm/scenarios.js";
export type { PmmInitMapReport } from "./pmm/scenarios.js";
export { vmmConformance, runVmmConformance } from "./vmm/suite.js";
export type { VmmConformanceReport } from "./vmm/suite.js";
export { DEFAULT_VMM_MAX_COMMANDS } from "./vmm/options.js";
export { SUITE_CPUS, bootVmmSystem } from "./vmm/system.js";
export { identifyVmm, runVmmSequence } from "./vmm/model-run.js";
export type { VmmIdentity } from "./vmm/model-run.js";
export { VmmHarness, newVmmCounters } from "./vmm/harness.js";
export type { VmmRunCounters } from "./vmm/harness.js";
export { ModelSpace } from "./vmm/model.js";
export type { ModelPage, ModelRegion } from "./vmm/model.js";
export { vmmCommandArbitraries } from "./vmm/commands.js";
export type { VmmCommand } from "./vmm/commands.js";
export { BAD_CALL_KINDS } from "./vmm/bad-calls.js";
export type { BadCallKind } from "./vmm/bad-calls.js";
