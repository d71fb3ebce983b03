// Firmware memory maps: E820 entries, text parsers, QEMU presets, multiboot encodings, summaries.
export * from "./e820.js";
export * from "./dmesg.js";
export * from "./sysfs.js";
export * from "./parse-text.js";
export * from "./presets.js";
export * from "./basic-memory.js";
export * from "./multiboot1.js";
export * from "./multiboot2.js";
export * from "./describe.js";
