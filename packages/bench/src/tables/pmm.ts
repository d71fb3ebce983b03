import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { BumpBootAllocator, type PhysicalMemoryManager } from "@allockit/core";
import { PhysicalRam, qemuMemoryMap } from "@allockit/x86-machine";
import { opsPerSecond, type MeasureOptions } from "../measure.js";
import { PMM_PLUGINS, makePmm } from "../pmm-plugins.js";

export interface PmmThroughput {
  plugin: string;
  /** Fraction of managed frames allocated while measuring: 0, 0.5, 0.9. */
  occupancy: number;
  opsPerSec: number;
}

export interface PmmRunThroughput {
  plugin: string;
  frames: number;
  opsPerSec: number;
}

export interface PmmInitFigures {
  plugin: string;
  ramGiB: number;
  seconds: number;
  hostRssBytes: number;
  baselineRssBytes: number;
  metadataBytes: number;
}

const KERNEL = { base: 0x100000, length: 0x200000, name: "kernel" };
/** Frames taken and given back per measured round. */
const BATCH = 32;

/** A PMM initialised over a q35 machine of `ramGiB` with the kernel reserved. */
export function initialisedPmm(
  manifest: Parameters<typeof makePmm>[0],
  ramGiB: number,
): PhysicalMemoryManager {
  const map = qemuMemoryMap({ machine: "q35", ramBytes: ramGiB * 2 ** 30 });
  const pmm = makePmm(manifest);
  const boot = new BumpBootAllocator(map, { reserved: [KERNEL] });
  pmm.init(map, boot, new PhysicalRam(map));
  if (!boot.capped) boot.cap();
  return pmm;
}

/**
 * Fills a PMM to `occupancy` the way a running kernel does: allocate everything, then give back
 * an evenly spread share, so free frames are scattered rather than one tail.
 */
function occupy(pmm: PhysicalMemoryManager, occupancy: number): void {
  const held: number[] = [];
  for (let frame = pmm.allocFrames(1); frame !== 0; frame = pmm.allocFrames(1)) held.push(frame);
  for (let i = 0; i < held.length; i++) {
    // Keep frame i when the running share of kept frames crosses the next whole number.
    const keep = Math.floor((i + 1) * occupancy) > Math.floor(i * occupancy);
    if (!keep) pmm.freeFrames(held[i]!, 1);
  }
}

/** Single-frame alloc+free: rounds of BATCH allocations then BATCH frees; one op = one call. */
function frameLoop(pmm: PhysicalMemoryManager): (operations: number) => number {
  const batch = new Float64Array(BATCH);
  return (operations) => {
    let sum = 0;
    for (let done = 0; done < operations; done += 2 * BATCH) {
      for (let i = 0; i < BATCH; i++) batch[i] = pmm.allocFrames(1);
      for (let i = 0; i < BATCH; i++) {
        sum += batch[i]!;
        if (batch[i] !== 0) pmm.freeFrames(batch[i]!, 1);
      }
    }
    return sum;
  };
}

/** The same rounds on a bare Int32Array stack of frame numbers: the JavaScript limit. */
export function measureBareStack(options: MeasureOptions): number {
  const frames = new Int32Array(1 << 18);
  for (let i = 0; i < frames.length; i++) frames[i] = i + 256;
  let top = frames.length;
  const batch = new Int32Array(BATCH);
  return opsPerSecond((operations) => {
    let sum = 0;
    for (let done = 0; done < operations; done += 2 * BATCH) {
      for (let i = 0; i < BATCH; i++) batch[i] = top > 0 ? frames[--top]! : 0;
      for (let i = 0; i < BATCH; i++) {
        sum += batch[i]!;
        frames[top++] = batch[i]!;
      }
    }
    return sum;
  }, options);
}

export function measurePmmThroughput(options: MeasureOptions, ramGiB: number): PmmThroughput[] {
  const rows: PmmThroughput[] = [];
  for (const [plugin, manifest] of PMM_PLUGINS) {
    for (const occupancy of [0, 0.5, 0.9]) {
      const pmm = initialisedPmm(manifest, ramGiB);
      occupy(pmm, occupancy);
      rows.push({ plugin, occupancy, opsPerSec: opsPerSecond(frameLoop(pmm), options) });
      pmm.check();
    }
  }
  return rows;
}

/** Contiguous runs (8, 64, 512 frames) for the PMMs that hand them out. */
export function measureContiguousRuns(options: MeasureOptions, ramGiB: number): PmmRunThroughput[] {
  const rows: PmmRunThroughput[] = [];
  for (const [plugin, manifest] of PMM_PLUGINS) {
    const pmm = initialisedPmm(manifest, ramGiB);
    if (!pmm.capabilities.contiguous) continue;
    for (const frames of [8, 64, 512]) {
      const runs = new Float64Array(8);
      const body = (operations: number) => {
        let sum = 0;
        for (let done = 0; done < operations; done += 16) {
          for (let i = 0; i < 8; i++) runs[i] = pmm.allocFrames(frames);
          for (let i = 0; i < 8; i++) {
            sum += runs[i]!;
            if (runs[i] !== 0) pmm.freeFrames(runs[i]!, frames);
          }
        }
        return sum;
      };
      rows.push({
        plugin,
        frames,
        opsPerSec: opsPerSecond(body, {
          runs: options.runs,
          operations: Math.max(16, options.operations / 16),
        }),
      });
    }
    pmm.check();
  }
  return rows;
}

/** Init time, host RSS and metadata, each in a fresh process so the figures are its own. */
export function measurePmmInit(sizesGiB: readonly number[]): PmmInitFigures[] {
  const script = fileURLToPath(new URL("../pmm-init-child.js", import.meta.url));
  const rows: PmmInitFigures[] = [];
  for (const [plugin] of PMM_PLUGINS) {
    for (const ramGiB of sizesGiB) {
      const out = execFileSync(process.execPath, [script, plugin, String(ramGiB)], {
        encoding: "utf8",
      });
      rows.push(JSON.parse(out) as PmmInitFigures);
    }
  }
  return rows;
}
