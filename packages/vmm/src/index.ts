export * from "./layout.js";
export * from "./region-tree.js";
export * from "./table-access.js";
export * from "./page-tables.js";
export * from "./address-space.js";
export * from "./heap-page-source.js";
export * from "./x86-vmm.js";
export * from "./boot-machine.js";
export { default } from "./plugin.js";
