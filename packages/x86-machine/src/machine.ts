import { AllocatorError, MiB, type MemoryMap } from "@allockit/core";
import { Cpu, type PageFaultHandler } from "./cpu.js";
import { PhysicalRam } from "./physical-memory.js";

export interface MachineOptions {
  /** Firmware memory map; default: one usable range of `ramBytes` from 0. */
  memoryMap?: MemoryMap;
  /** RAM size when no map is given (default 64 MiB). */
  ramBytes?: number;
  /** MAXPHYADDR, 32 .. 52 (default 40). */
  maxPhysAddr?: number;
  /** Whether 4-level paging supports 1 GiB pages (default true). */
  page1GB?: boolean;
  /** Number of CPUs sharing physical memory (default 1). */
  cpus?: number;
  /** TLB entries per CPU, a power of two (default 8192). */
  tlbEntries?: number;
  /** Accesses to physical addresses that are not RAM raise BusError (default true). */
  strict?: boolean;
}

/**
 * A simulated x86 machine: physical memory over a firmware map, and one or more CPUs sharing it,
 * each with its own registers and TLB, so a missing TLB shootdown shows up as it would on real
 * hardware.
 */
export class Machine {
  readonly memory: PhysicalRam;
  readonly cpus: readonly Cpu[];
  readonly memoryMap: MemoryMap;

  constructor(options: MachineOptions = {}) {
    const ramBytes = options.ramBytes ?? 64 * MiB;
    if (options.memoryMap === undefined && (!Number.isSafeInteger(ramBytes) || ramBytes <= 0)) {
      throw new AllocatorError(
        "EINVAL",
        `RAM size ${String(ramBytes)} is not a positive byte count`,
        ramBytes,
      );
    }
    this.memoryMap = options.memoryMap ?? [{ base: 0, length: ramBytes, type: "usable" }];
    this.memory = new PhysicalRam(this.memoryMap, { strict: options.strict ?? true });
    const count = options.cpus ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 256) {
      throw new AllocatorError("EINVAL", `CPU count ${String(count)} is not in 1 .. 256`, count);
    }
    const cpus: Cpu[] = [];
    for (let index = 0; index < count; index++) {
      cpus.push(
        new Cpu({
          index,
          memory: this.memory,
          maxPhysAddr: options.maxPhysAddr ?? 40,
          page1GB: options.page1GB ?? true,
          ...(options.tlbEntries === undefined ? {} : { tlbEntries: options.tlbEntries }),
        }),
      );
    }
    this.cpus = cpus;
  }

  /** The boot CPU. */
  get cpu(): Cpu {
    return this.cpus[0]!;
  }

  /** Installs the OS's page-fault handler on every CPU. */
  setPageFaultHandler(handler: PageFaultHandler | undefined): void {
    for (const cpu of this.cpus) cpu.pageFaultHandler = handler;
  }
}
