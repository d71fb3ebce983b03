export * from "./measure.js";
export * from "./tables/mmu.js";
export * from "./tables/sparse-machine.js";
export * from "./tables/pmm.js";
export * from "./tables/vmm.js";
export * from "./tables/boot.js";
export * from "./pmm-plugins.js";
export * from "./run.js";
