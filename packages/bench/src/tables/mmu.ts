import { Machine } from "@allockit/x86-machine";
import { opsPerSecond, type MeasureOptions } from "../measure.js";

export interface MmuFigures {
  tlbHitRead32OpsPerSec: number;
  dataViewRead32OpsPerSec: number;
  tlbHitWrite32OpsPerSec: number;
  dataViewWrite32OpsPerSec: number;
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
  return figures;
}
