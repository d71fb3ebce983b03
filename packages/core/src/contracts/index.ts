export type * from "./memory.js";
export type * from "./heap.js";
export type * from "./page-source.js";
export type * from "./pmm.js";
export type * from "./memory-map.js";
export type * from "./boot-allocator.js";
export type * from "./vmm.js";
export { ZONES, DEFAULT_ZONE_LIMITS } from "./pmm.js";
