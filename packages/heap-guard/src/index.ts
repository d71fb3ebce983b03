/**
 * @allockit/heap-guard: the guard-page debug heap. Every object in its own pages against an
 * unmapped guard page, slack signatures and canaries checked on free, freed pages unmapped and
 * quarantined, and KFENCE-style reports. The default export is the plugin manifest; GuardHeap,
 * GuardPageSource and SamplingHeap are usable without a container.
 */
export { GuardHeap } from "./guard-heap.js";
export type { GuardAllocOptions, GuardHeapOptions } from "./guard-heap.js";
export { GuardPageSource } from "./guard-page-source.js";
export type { GuardPageSourceOptions } from "./guard-page-source.js";
export { GuardMemory } from "./guard-memory.js";
export type { FaultExplainer } from "./guard-memory.js";
export { SamplingHeap, DEFAULT_SAMPLE_EVERY } from "./sampling-heap.js";
export type { SamplingHeapOptions } from "./sampling-heap.js";
export {
  GUARD_VIOLATION_CODES,
  GUARD_VIOLATION_KINDS,
  GuardViolation,
  isGuardViolation,
} from "./violation.js";
export type { GuardMode, GuardObjectInfo, GuardSide, GuardViolationKind } from "./violation.js";
export { injectBug } from "./inject.js";
export type { InjectOptions } from "./inject.js";
export { formatAddress, whereText } from "./report.js";
export {
  CANARY_BYTES,
  DEFAULT_ALIGN,
  DEFAULT_POOL_SLOTS,
  DEFAULT_QUARANTINE_PAGES,
  MAX_ALIGN,
  RECORD_BYTES,
  SLACK_BYTE,
  TAG_MAX,
} from "./layout.js";
export { default } from "./plugin.js";
