import "reflect-metadata";

export * from "./address.js";
export * from "./errors.js";
export * from "./validate.js";
export * from "./contracts/index.js";
export * from "./tokens.js";
export * from "./plugin.js";
export * from "./flat-memory.js";
export * from "./flat-page-source.js";
export * from "./memory-map.js";
export * from "./boot-allocator.js";
export * from "./libc.js";
export * from "./list-heap.js";
export * from "./loader.js";
export * from "./config.js";
export * from "./compose.js";
export * from "./pmm-support.js";
export * from "./boot.js";
