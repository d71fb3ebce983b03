import type { PageTableAccess } from "@allockit/core";
import type { VmmMode } from "@allockit/vmm";
import { measureVmmConfig } from "./tables/vmm.js";

// Measures map+unmap for one mode and access (see measureVmm) and prints the figures as JSON.
const [mode, access, runs, operations, small, large] = process.argv.slice(2);
const figures = measureVmmConfig(mode as VmmMode, access as PageTableAccess, {
  runs: Number(runs),
  operations: Number(operations),
  sizes: [Number(small), Number(large)],
});
process.stdout.write(JSON.stringify(figures));
