import type { VmmMode } from "@allockit/vmm";
import { measureBootTime, type QemuMachine } from "./tables/boot.js";

// Boots one machine, mode and PMM cold and then `runs` more times; prints the figures as JSON.
const [machine, ramGiB, mode, plugin, runs] = process.argv.slice(2);
process.stdout.write(
  JSON.stringify(
    measureBootTime(
      machine as QemuMachine,
      Number(ramGiB),
      mode as VmmMode,
      String(plugin),
      Number(runs),
    ),
  ),
);
