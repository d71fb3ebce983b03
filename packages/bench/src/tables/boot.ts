import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { bootSystem, type BootReport } from "@allockit/core";
import { X86Vmm, type VmmMode } from "@allockit/vmm";
import { Machine, qemuMemoryMap } from "@allockit/x86-machine";
import { median } from "../measure.js";
import { PMM_PLUGINS, makePmm } from "../pmm-plugins.js";

export interface BootTime {
  /** QEMU machine type whose firmware map is booted. */
  machine: QemuMachine;
  ramGiB: number;
  mode: VmmMode;
  pmm: string;
  access: "direct-map";
  /** bootSystem, firmware map to kernel heap: median seconds of the boots after the first. */
  seconds: number;
  /** The first boot in a fresh process (the JIT has seen nothing yet), in seconds. */
  coldSeconds: number;
  /** Median seconds of the two stages that depend on RAM size. */
  pmmSeconds: number;
  pageTablesSeconds: number;
  /** Frames the stages took (PMM metadata from the boot allocator, then page tables). */
  frames: number;
  /** Boots after the cold one whose median is `seconds`. */
  runs: number;
}

export type QemuMachine = "i440fx" | "q35";

export interface BootCase {
  machine: QemuMachine;
  ramGiB: number;
  modes: readonly VmmMode[];
}

/**
 * The machines and modes booted: every mode on a 4 GiB i440fx; long mode on a 1 GiB and a
 * 64 GiB q35, whose ratio is one of the goals.
 */
export const BOOT_CASES: readonly BootCase[] = [
  { machine: "i440fx", ramGiB: 4, modes: ["32bit", "pae", "long"] },
  { machine: "q35", ramGiB: 1, modes: ["long"] },
  { machine: "q35", ramGiB: 64, modes: ["long"] },
];

function bootOnce(
  type: QemuMachine,
  ramGiB: number,
  mode: VmmMode,
  manifest: (typeof PMM_PLUGINS)[number][1],
) {
  // The machine (sparse RAM, CPUs) is made outside the timing: a real one exists before boot.
  const machine = new Machine({
    memoryMap: qemuMemoryMap({ machine: type, ramBytes: ramGiB * 2 ** 30 }),
  });
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
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (vmm.kernelHeap.allocPages(1) === 0)
    throw new Error(`bench: ${type} ${ramGiB} GiB ${mode}: no heap page`);
  return { seconds, report };
}

function stageSeconds(report: BootReport, name: string): number {
  return (report.stages.find((stage) => stage.name === name)?.ms ?? NaN) / 1000;
}

/**
 * One machine, mode and PMM in this process: a cold boot, then `runs` more; each on a fresh
 * machine.
 */
export function measureBootTime(
  type: QemuMachine,
  ramGiB: number,
  mode: VmmMode,
  plugin: string,
  runs: number,
): BootTime {
  const manifest = PMM_PLUGINS.find(([name]) => name === plugin)?.[1];
  if (manifest === undefined) throw new Error(`bench: unknown PMM ${plugin}`);
  const cold = bootOnce(type, ramGiB, mode, manifest);
  const boots = Array.from({ length: runs }, () => bootOnce(type, ramGiB, mode, manifest));
  const frames = (report: BootReport) =>
    report.stages.reduce((sum, stage) => sum + stage.frames, 0);
  for (const boot of boots) {
    if (frames(boot.report) !== frames(cold.report)) throw new Error("bench: boot frames differ");
  }
  return {
    machine: type,
    ramGiB,
    mode,
    pmm: plugin,
    access: "direct-map",
    seconds: median(boots.map((b) => b.seconds)),
    coldSeconds: cold.seconds,
    pmmSeconds: median(boots.map((b) => stageSeconds(b.report, "pmm"))),
    pageTablesSeconds: median(boots.map((b) => stageSeconds(b.report, "kernel page tables"))),
    frames: frames(cold.report),
    runs,
  };
}

/** Boot time per machine, mode and PMM, each in a fresh process. */
export function measureBootTimes(runs: number): BootTime[] {
  const script = fileURLToPath(new URL("../boot-child.js", import.meta.url));
  const rows: BootTime[] = [];
  for (const { machine, ramGiB, modes } of BOOT_CASES) {
    for (const mode of modes) {
      for (const [plugin] of PMM_PLUGINS) {
        const args = [script, machine, String(ramGiB), mode, plugin, String(runs)];
        const out = execFileSync(process.execPath, args, { encoding: "utf8" });
        rows.push(JSON.parse(out) as BootTime);
      }
    }
  }
  return rows;
}
