import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PAGE_SIZE, type PageTableAccess, type PluginManifest } from "@allockit/core";
import stack from "@allockit/pmm-stack";
import { bootMachine, type X86AddressSpace, type X86Vmm, type VmmMode } from "@allockit/vmm";
import { median } from "../measure.js";
import { makePmm } from "../pmm-plugins.js";

export const VMM_MODES: readonly VmmMode[] = ["32bit", "pae", "long"];
export const VMM_ACCESSES: readonly PageTableAccess[] = ["direct-map", "recursive", "window"];
/** The live-region counts compared; the goal is about the ratio of the two. */
export const VMM_SIZES = [1_000, 100_000] as const;
/** Per-operation time at the larger size may be at most this many times that at the smaller. */
export const VMM_GOAL_RATIO = 1.5;

/**
 * Where the measured map lands:
 * - "first fit": no address; the gap search finds the lowest hole (next to the first region);
 * - "spread": at a hole next to a different live region each time, cycling through all of them,
 *   so every page table of the space is visited in turn.
 */
export type MapPattern = "first fit" | "spread";
export const MAP_PATTERNS: readonly MapPattern[] = ["first fit", "spread"];

/** Live regions are one page every STRIDE bytes: 3 free pages after each, 512 per 2 MiB table. */
const STRIDE = 4 * PAGE_SIZE;
/** Steps through the regions in the spread pattern (coprime with both sizes). */
const SPREAD_STEP = 7919;
const MACHINE_BYTES = 2 ** 30;

export interface VmmMeasureOptions {
  /** Timed runs per figure; the median is reported. */
  runs: number;
  /** map+unmap pairs per timed run. */
  operations: number;
  /** Accesses to measure (default all three). */
  accesses?: readonly PageTableAccess[];
  /** The two live-region counts compared (default VMM_SIZES; --quick uses fewer). */
  sizes?: readonly [number, number];
}

export interface VmmThroughput {
  mode: VmmMode;
  access: PageTableAccess;
  pattern: MapPattern;
  /** Live 1-page committed regions in the space while measuring. */
  regions: number;
  /** map(1 page, commit) + unmap pairs per second, median of the runs. */
  opsPerSec: number;
  /** Milliseconds it took to map and commit the live regions. */
  fillMs: number;
  /** Page-table pages of the VMM (all spaces) with the regions live. */
  pageTablePages: number;
}

export interface VmmScaling {
  mode: VmmMode;
  access: PageTableAccess;
  pattern: MapPattern;
  smallOpsPerSec: number;
  largeOpsPerSec: number;
  /** Per-operation time at the larger size / at the smaller one. */
  ratio: number;
  met: boolean;
}

export interface VmmFigures {
  sizes: readonly number[];
  goalRatio: number;
  rows: VmmThroughput[];
  scaling: VmmScaling[];
  /** Every scaling ratio within the goal. */
  goalMet: boolean;
  /** The goal per pattern. */
  goals: VmmGoal[];
}

export interface VmmGoal {
  pattern: MapPattern;
  met: boolean;
  /** Configurations (mode and access) within the goal, of all measured. */
  within: number;
  of: number;
  worstRatio: number;
  /** Mode and access of the worst ratio. */
  worst: string;
}

interface Live {
  vmm: X86Vmm;
  space: X86AddressSpace;
  regions: number;
  fillMs: number;
}

/** Boots a 1 GiB machine with pmm-stack, makes a user space and fills it with `regions`. */
function liveSpace(mode: VmmMode, access: PageTableAccess, regions: number): Live {
  const { vmm } = bootMachine({
    ramBytes: MACHINE_BYTES,
    pmm: makePmm(stack as unknown as PluginManifest),
    mode,
    access,
  });
  const space = vmm.createSpace();
  const started = performance.now();
  for (let i = 0; i < regions; i++) {
    const at = space.low + i * STRIDE;
    if (space.map({ kind: "anonymous", sizeBytes: PAGE_SIZE, at, commit: true }) !== at) {
      throw new Error(`bench: ${mode}/${access}: could not map live region ${i} at ${at}`);
    }
  }
  return { vmm, space, regions, fillMs: performance.now() - started };
}

/**
 * `operations` map+unmap pairs; returns a checksum of the addresses mapped. One function per
 * pattern, so the JIT's feedback for one does not shape the other.
 */
function mapUnmap(live: Live, pattern: MapPattern, operations: number, first: number): number {
  return pattern === "first fit"
    ? mapUnmapFirstFit(live.space, operations)
    : mapUnmapSpread(live.space, live.regions, operations, first % live.regions);
}

function mapUnmapFirstFit(space: X86AddressSpace, operations: number): number {
  let sum = 0;
  for (let i = 0; i < operations; i++) {
    const addr = space.map({ kind: "anonymous", sizeBytes: PAGE_SIZE, commit: true });
    if (addr === 0) throw new Error("bench: map returned 0 (out of memory?)");
    space.unmap(addr, PAGE_SIZE);
    sum += addr;
  }
  return sum;
}

function mapUnmapSpread(
  space: X86AddressSpace,
  regions: number,
  operations: number,
  first: number,
): number {
  const base = space.low + PAGE_SIZE;
  let sum = 0;
  let k = first;
  for (let i = 0; i < operations; i++) {
    const at = base + k * STRIDE;
    const addr = space.map({ kind: "anonymous", sizeBytes: PAGE_SIZE, at, commit: true });
    if (addr !== at) throw new Error("bench: map at a free hole failed (out of memory?)");
    space.unmap(addr, PAGE_SIZE);
    sum += addr;
    k += SPREAD_STEP;
    if (k >= regions) k %= regions;
  }
  return sum;
}

function timed(body: () => number): { seconds: number; sink: number } {
  const start = process.hrtime.bigint();
  const sink = body();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, sink };
}

/** The figures of one mode and access, as the child process reports them. */
export interface VmmConfigFigures {
  rows: VmmThroughput[];
  scaling: VmmScaling[];
}

/**
 * One mode and access, in this process: a system per size, then for each pattern a warm-up and
 * `runs` timed runs, the sizes alternating so drift in the host affects both alike. Checks after
 * that no region leaked and the VMM's tables are consistent.
 */
export function measureVmmConfig(
  mode: VmmMode,
  access: PageTableAccess,
  options: VmmMeasureOptions,
): VmmConfigFigures {
  const rows: VmmThroughput[] = [];
  const scaling: VmmScaling[] = [];
  let sink = 0;
  const lives = (options.sizes ?? VMM_SIZES).map((n) => liveSpace(mode, access, n));
  for (const pattern of MAP_PATTERNS) {
    const rates: number[][] = lives.map(() => []);
    lives.forEach((live, i) => {
      sink += mapUnmap(live, pattern, Math.min(options.operations, 10_000), i);
    });
    for (let run = 0; run < options.runs; run++) {
      lives.forEach((live, i) => {
        const t = timed(() => mapUnmap(live, pattern, options.operations, run * 31 + i));
        sink += t.sink;
        rates[i]!.push(options.operations / t.seconds);
      });
    }
    const medians = rates.map((r) => median(r));
    lives.forEach((live, i) => {
      rows.push({
        mode,
        access,
        pattern,
        regions: live.regions,
        opsPerSec: medians[i]!,
        fillMs: live.fillMs,
        pageTablePages: live.vmm.stats().pageTablePages,
      });
    });
    const [small, large] = [medians[0]!, medians[medians.length - 1]!];
    const ratio = small / large;
    scaling.push({
      mode,
      access,
      pattern,
      smallOpsPerSec: small,
      largeOpsPerSec: large,
      ratio,
      met: ratio <= VMM_GOAL_RATIO,
    });
  }
  for (const live of lives) {
    if (live.space.stats().regions !== live.regions) {
      throw new Error(`bench: ${mode}/${access}: map+unmap left regions behind`);
    }
    live.vmm.check();
  }
  if (sink === 0.5) console.log(""); // keeps `sink` observable
  return { rows, scaling };
}

/**
 * map(1 page, commit) + unmap throughput in a user space holding 1 000 and 100 000 live
 * committed 1-page regions, for every mode and access. Each mode and access runs in a fresh
 * process, so the JIT has seen only its own page-table access code, as in a kernel built with
 * one strategy.
 */
export function measureVmm(options: VmmMeasureOptions): VmmFigures {
  const script = fileURLToPath(new URL("../vmm-child.js", import.meta.url));
  const rows: VmmThroughput[] = [];
  const scaling: VmmScaling[] = [];
  for (const mode of VMM_MODES) {
    for (const access of options.accesses ?? VMM_ACCESSES) {
      const out = execFileSync(
        process.execPath,
        [
          script,
          mode,
          access,
          String(options.runs),
          String(options.operations),
          ...(options.sizes ?? VMM_SIZES).map(String),
        ],
        { encoding: "utf8" },
      );
      const figures = JSON.parse(out) as VmmConfigFigures;
      rows.push(...figures.rows);
      scaling.push(...figures.scaling);
    }
  }
  const goals = MAP_PATTERNS.map((pattern): VmmGoal => {
    const mine = scaling.filter((s) => s.pattern === pattern);
    const worst = mine.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    const within = mine.filter((s) => s.met).length;
    return {
      pattern,
      met: within === mine.length,
      within,
      of: mine.length,
      worstRatio: worst.ratio,
      worst: `${worst.mode} ${worst.access}`,
    };
  });
  return {
    sizes: options.sizes ?? VMM_SIZES,
    goalRatio: VMM_GOAL_RATIO,
    rows,
    scaling,
    goalMet: goals.every((g) => g.met),
    goals,
  };
}
