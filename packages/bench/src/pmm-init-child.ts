import { BumpBootAllocator } from "@allockit/core";
import { PhysicalRam, qemuMemoryMap } from "@allockit/x86-machine";
import { PMM_PLUGINS, makePmm } from "./pmm-plugins.js";

// Initialises one PMM over a q35 machine of the given size and prints what it cost, as JSON.
const [plugin, ramText] = process.argv.slice(2);
const manifest = PMM_PLUGINS.find(([name]) => name === plugin)?.[1];
if (manifest === undefined) throw new Error(`unknown PMM ${String(plugin)}`);
const ramGiB = Number(ramText);
const map = qemuMemoryMap({ machine: "q35", ramBytes: ramGiB * 2 ** 30 });
const ram = new PhysicalRam(map);
const pmm = makePmm(manifest);
const boot = new BumpBootAllocator(map, {
  reserved: [{ base: 0x100000, length: 0x200000, name: "kernel" }],
});
const baselineRssBytes = process.memoryUsage().rss;
const start = process.hrtime.bigint();
pmm.init(map, boot, ram);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
if (pmm.allocFrames(1) === 0) throw new Error(`${plugin} handed out nothing after init`);
process.stdout.write(
  JSON.stringify({
    plugin,
    ramGiB,
    seconds,
    hostRssBytes: process.memoryUsage().rss,
    baselineRssBytes,
    metadataBytes: pmm.stats().metadataBytes,
  }),
);
