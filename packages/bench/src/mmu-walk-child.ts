import { measureWalk, type WalkMode } from "./tables/mmu.js";

// Measures the TLB-miss cost of one paging mode (see measureWalk); prints the figures as JSON.
const [mode, runs, operations] = process.argv.slice(2);
process.stdout.write(
  JSON.stringify(
    measureWalk(mode as WalkMode, { runs: Number(runs), operations: Number(operations) }),
  ),
);
