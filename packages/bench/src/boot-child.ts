import type { VmmMode } from "@allockit/vmm";
import { measureBootTime } from "./tables/boot.js";

// Boots one machine, mode and PMM cold and then `runs` more times; prints the figures as JSON.
const [preset, mode, plugin, runs] = process.argv.slice(2);
process.stdout.write(
  JSON.stringify(measureBootTime(String(preset), mode as VmmMode, String(plugin), Number(runs))),
);
