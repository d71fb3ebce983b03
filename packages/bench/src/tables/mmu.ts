import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Machine } from "@allockit/x86-machine";
import { opsPerSecond, type MeasureOptions } from "../measure.js";

/** Walk cost of one paging mode: read32s that all miss the TLB. */
export interface MmuWalkFigures {
  mode: WalkMode;
  /** Paging-structure levels a 4 KiB translation reads (2, 3 or 4). */
  levels: number;
  /** read32 when every access misses the TLB and walks the tables, median ops/s. */
  missRead32OpsPerSec: number;
  /** read32 on the same two pages when every access hits (the same mode), median ops/s. */
  hitRead32OpsPerSec: number;
  /** Nanoseconds a miss costs over a hit: the walk and the TLB fill. */
  walkNs: number;
}

export interface MmuFigures {
  tlbHitRead32OpsPerSec: number;
  dataViewRead32OpsPerSec: number;
  tlbHitWrite32OpsPerSec: number;
  dataViewWrite32OpsPerSec: number;
  /** Per paging mode, the cost of a TLB miss. */
  walks: MmuWalkFigures[];
}

const KERNEL = 2 ** 48 - 2 ** 31;

/**
 * read32 / write32 through the MMU when every access hits the TLB (64 pages, 4-level paging),
 * next to the same loop over a plain DataView: the JavaScript limit for this access pattern.
 */
export function measureMmu(options: MeasureOptions): MmuFigures {
  const pages = 64;
  const machine = new Machine({ ramBytes: 64 * 1024 * 1024 });
  const mem = machine.memory;
  // PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000 -> frames from 0x100000.
  mem.write64(0x1000 + 511 * 8, 0x2003, 0);
  mem.write64(0x2000 + 510 * 8, 0x3003, 0);
  mem.write64(0x3000, 0x4003, 0);
  for (let p = 0; p < pages; p++) mem.write64(0x4000 + p * 8, 0x100000 + p * 0x1000 + 3, 0);
  const cpu = machine.cpu;
  cpu.enablePaging("long", 0x1000);
  for (let p = 0; p < pages; p++) cpu.write32(KERNEL + p * 4096, p); // fill TLB, back pages

  const view = new DataView(new ArrayBuffer(pages * 4096));
  const span = pages * 4096 - 4;
  const stride = 4100; // crosses pages, stays aligned to 4 within each
  const tlbRead = (n: number) => {
    let sum = 0;
    let offset = 0;
    for (let i = 0; i < n; i++) {
      sum = (sum + cpu.read32(KERNEL + (offset & ~3))) | 0;
      offset += stride;
      if (offset >= span) offset -= span;
    }
    return sum;
  };
  const viewRead = (n: number) => {
    let sum = 0;
    let offset = 0;
    for (let i = 0; i < n; i++) {
      sum = (sum + view.getUint32(offset & ~3, true)) | 0;
      offset += stride;
      if (offset >= span) offset -= span;
    }
    return sum;
  };
  const tlbWrite = (n: number) => {
    let offset = 0;
    for (let i = 0; i < n; i++) {
      cpu.write32(KERNEL + (offset & ~3), i);
      offset += stride;
      if (offset >= span) offset -= span;
    }
    return offset;
  };
  const viewWrite = (n: number) => {
    let offset = 0;
    for (let i = 0; i < n; i++) {
      view.setUint32(offset & ~3, i, true);
      offset += stride;
      if (offset >= span) offset -= span;
    }
    return offset;
  };
  const before = cpu.counters();
  const figures = {
    tlbHitRead32OpsPerSec: opsPerSecond(tlbRead, options),
    dataViewRead32OpsPerSec: opsPerSecond(viewRead, options),
    tlbHitWrite32OpsPerSec: opsPerSecond(tlbWrite, options),
    dataViewWrite32OpsPerSec: opsPerSecond(viewWrite, options),
  };
  if (cpu.counters().walks !== before.walks)
    throw new Error("the MMU benchmark missed the TLB; it measures hits only");
  const walkOptions = { runs: options.runs, operations: Math.max(1000, options.operations / 20) };
  const script = fileURLToPath(new URL("../mmu-walk-child.js", import.meta.url));
  const walks = WALK_MODES.map(
    (mode) =>
      JSON.parse(
        execFileSync(
          process.execPath,
          [script, mode, String(walkOptions.runs), String(walkOptions.operations)],
          { encoding: "utf8" },
        ),
      ) as MmuWalkFigures,
  );
  return { ...figures, walks };
}

export const WALK_MODES = ["32bit", "pae", "long"] as const;
export type WalkMode = (typeof WALK_MODES)[number];
/** TLB entries of the walk machine: two pages this many pages apart share one entry. */
const WALK_TLB_ENTRIES = 64;
const PRESENT_WRITABLE = 3;

/**
 * Maps two 4 KiB pages `WALK_TLB_ENTRIES` pages apart (so they share one entry of the
 * direct-mapped TLB) through tables built by hand at 0x1000.., in `mode`, and times read32s
 * alternating between them: every access evicts the other page and walks. The same reads on
 * one page (every access a hit) give the baseline the walk cost is measured against. Run in a
 * fresh process per mode (see measureMmu), as a kernel runs in one mode.
 */
export function measureWalk(mode: WalkMode, options: MeasureOptions): MmuWalkFigures {
  const machine = new Machine({ ramBytes: 16 * 1024 * 1024, tlbEntries: WALK_TLB_ENTRIES });
  const mem = machine.memory;
  const linear = mode === "long" ? KERNEL : 0x4000_0000;
  const second = linear + WALK_TLB_ENTRIES * 4096;
  const frames = [0x100000, 0x101000];
  let levels: number;
  if (mode === "32bit") {
    // PD 0x1000 -> PT 0x2000 (4-byte entries, 10 bits per level).
    levels = 2;
    mem.write32(0x1000 + (linear >>> 22) * 4, 0x2000 + PRESENT_WRITABLE);
    for (const [i, va] of [linear, second].entries())
      mem.write32(0x2000 + ((va >>> 12) & 0x3ff) * 4, frames[i]! + PRESENT_WRITABLE);
  } else if (mode === "pae") {
    // PDPT 0x1000 (4 entries; no R/W bit there) -> PD 0x2000 -> PT 0x3000.
    levels = 3;
    mem.write64(0x1000 + (linear >>> 30) * 8, 0x2000 + 1, 0);
    mem.write64(0x2000 + ((linear >>> 21) & 0x1ff) * 8, 0x3000 + PRESENT_WRITABLE, 0);
    for (const [i, va] of [linear, second].entries())
      mem.write64(0x3000 + ((va >>> 12) & 0x1ff) * 8, frames[i]! + PRESENT_WRITABLE, 0);
  } else {
    // The hit table's layout: PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000.
    levels = 4;
    mem.write64(0x1000 + 511 * 8, 0x2003, 0);
    mem.write64(0x2000 + 510 * 8, 0x3003, 0);
    mem.write64(0x3000, 0x4003, 0);
    for (const [i, va] of [linear, second].entries())
      mem.write64(0x4000 + ((va / 4096) & 0x1ff) * 8, frames[i]! + PRESENT_WRITABLE, 0);
  }
  const cpu = machine.cpu;
  cpu.enablePaging(mode, 0x1000);
  cpu.write32(linear, 1);
  cpu.write32(second, 2);
  const distance = second - linear;
  const missing = (n: number) => {
    let sum = 0;
    let at = 0;
    for (let i = 0; i < n; i++) {
      sum = (sum + cpu.read32(linear + at)) | 0;
      at = distance - at;
    }
    return sum;
  };
  const hitting = (n: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum = (sum + cpu.read32(linear + (i & 1) * 4)) | 0;
    return sum;
  };
  const before = cpu.counters().walks;
  const missRead32OpsPerSec = opsPerSecond(missing, options);
  const walked = cpu.counters().walks - before;
  if (walked < options.operations * options.runs)
    throw new Error(`bench: ${mode}: the walk benchmark hit the TLB (${walked} walks)`);
  const hitRead32OpsPerSec = opsPerSecond(hitting, options);
  return {
    mode,
    levels,
    missRead32OpsPerSec,
    hitRead32OpsPerSec,
    walkNs: 1e9 / missRead32OpsPerSec - 1e9 / hitRead32OpsPerSec,
  };
}
