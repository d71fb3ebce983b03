export * from "./measure.js";
export * from "./tables/mmu.js";
export * from "./tables/sparse-machine.js";
export * from "./tables/pmm.js";
export * from "./pmm-plugins.js";
export * from "./run.js";
