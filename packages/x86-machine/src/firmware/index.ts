// Firmware memory maps: E820, presets, parsers, multiboot (being written).
export {};
