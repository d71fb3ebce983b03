import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { bootSystem, type BootReport } from "@allockit/core";
import { X86Vmm, type VmmMode } from "@allockit/vmm";
import { Machine, memoryMapPreset } from "@allockit/x86-machine";
import { median } from "../measure.js";
import { PMM_PLUGINS, makePmm } from "../pmm-plugins.js";

export interface BootTime {
  preset: string;
  mode: VmmMode;
  pmm: string;
  access: "direct-map";
  /** The first boot in a fresh process (the JIT has seen nothing yet), in milliseconds. */
  coldMs: number;
  /** bootSystem, firmware map to kernel heap: median milliseconds of the boots after it. */
  ms: number;
  /** Median milliseconds of the two stages that depend on RAM size. */
  pmmMs: number;
  pageTablesMs: number;
  /** Frames the stages took (PMM metadata from the boot allocator, then page tables). */
  frames: number;
  /** Boots after the cold one whose median is `ms`. */
  runs: number;
}

/** The machines and modes booted: every mode on 4 GiB, long mode on 64 GiB. */
export const BOOT_CASES: ReadonlyArray<{ preset: string; modes: readonly VmmMode[] }> = [
  { preset: "qemu-i440fx-4g", modes: ["32bit", "pae", "long"] },
  { preset: "qemu-q35-64g", modes: ["long"] },
];

function bootOnce(preset: string, mode: VmmMode, manifest: (typeof PMM_PLUGINS)[number][1]) {
  // The machine (sparse RAM, CPUs) is made outside the timing: a real one exists before boot.
  const machine = new Machine({ memoryMap: memoryMapPreset(preset) });
  const pmm = makePmm(manifest);
  const vmm = new X86Vmm({ mode, access: "direct-map" });
  const start = process.hrtime.bigint();
  const report = bootSystem({
    machine,
    memoryMap: machine.memoryMap,
    physical: machine.memory,
    pmm,
    vmm,
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (vmm.kernelHeap.allocPages(1) === 0) throw new Error(`bench: ${preset} ${mode}: no heap page`);
  return { ms, report };
}

function stageMs(report: BootReport, name: string): number {
  return report.stages.find((stage) => stage.name === name)?.ms ?? NaN;
}

/**
 * One machine, mode and PMM in this process: a cold boot, then `runs` more; each on a fresh
 * machine.
 */
export function measureBootTime(
  preset: string,
  mode: VmmMode,
  plugin: string,
  runs: number,
): BootTime {
  const manifest = PMM_PLUGINS.find(([name]) => name === plugin)?.[1];
  if (manifest === undefined) throw new Error(`bench: unknown PMM ${plugin}`);
  const cold = bootOnce(preset, mode, manifest);
  const boots = Array.from({ length: runs }, () => bootOnce(preset, mode, manifest));
  const frames = (report: BootReport) =>
    report.stages.reduce((sum, stage) => sum + stage.frames, 0);
  for (const boot of boots) {
    if (frames(boot.report) !== frames(cold.report)) throw new Error("bench: boot frames differ");
  }
  return {
    preset,
    mode,
    pmm: plugin,
    access: "direct-map",
    coldMs: cold.ms,
    ms: median(boots.map((b) => b.ms)),
    pmmMs: median(boots.map((b) => stageMs(b.report, "pmm"))),
    pageTablesMs: median(boots.map((b) => stageMs(b.report, "kernel page tables"))),
    frames: frames(cold.report),
    runs,
  };
}

/** Boot time per machine, mode and PMM, each in a fresh process. */
export function measureBootTimes(runs: number): BootTime[] {
  const script = fileURLToPath(new URL("../boot-child.js", import.meta.url));
  const rows: BootTime[] = [];
  for (const { preset, modes } of BOOT_CASES) {
    for (const mode of modes) {
      for (const [plugin] of PMM_PLUGINS) {
        const out = execFileSync(process.execPath, [script, preset, mode, plugin, String(runs)], {
          encoding: "utf8",
        });
        rows.push(JSON.parse(out) as BootTime);
      }
    }
  }
  return rows;
}
