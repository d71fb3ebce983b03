import { AllocatorError, hex, packCanonical } from "@allockit/core";
import type { AccessKind, Cpu } from "./cpu.js";
import { BusError, GeneralProtectionError } from "./faults.js";
import { Machine } from "./machine.js";
import {
  CR0_WP,
  CR4_PGE,
  CR4_PSE,
  CR4_SMAP,
  CR4_SMEP,
  EFER_NXE,
  RFLAGS_AC,
  type PagingMode,
} from "./registers.js";
import { decodeEntryFlags, formatEntry, type WalkTrace } from "./walk-trace.js";

/** Control bits of a walk request, as `allockit walk` takes them. */
export interface ControlBits {
  wp?: boolean;
  pse?: boolean;
  pge?: boolean;
  smep?: boolean;
  smap?: boolean;
  nxe?: boolean;
  ac?: boolean;
}

export interface DumpMachineOptions extends ControlBits {
  mode: Exclude<PagingMode, "none">;
  cr3: number;
  maxPhysAddr?: number;
  page1GB?: boolean;
}

/**
 * A machine whose RAM is exactly a raw physical memory dump (such as QEMU's `pmemsave`
 * writes) at `base`, with paging set up as given. Walks that reach outside the dump raise a
 * BusError naming the entry's address.
 */
export function machineFromDump(
  dump: Uint8Array,
  base: number,
  options: DumpMachineOptions,
): Machine {
  if (dump.length === 0) throw new AllocatorError("EINVAL", "the memory dump is empty", base);
  const machine = new Machine({
    memoryMap: [{ base, length: dump.length, type: "usable" }],
    maxPhysAddr: options.maxPhysAddr ?? 52,
    page1GB: options.page1GB ?? true,
  });
  // Copy page by page, skipping zero pages so a large, mostly empty dump stays cheap.
  for (let offset = 0; offset < dump.length; offset += 4096) {
    const page = dump.subarray(offset, Math.min(offset + 4096, dump.length));
    if (page.some((byte) => byte !== 0)) machine.memory.writeBytes(base + offset, page);
  }
  applyControlBits(machine.cpu, options);
  machine.cpu.enablePaging(options.mode, options.cr3);
  return machine;
}

/** Sets WP, PSE, PGE, SMEP, SMAP, NXE and AC as given (others unchanged). */
export function applyControlBits(cpu: Cpu, bits: ControlBits): void {
  const set = (value: number, bit: number, on: boolean | undefined) =>
    on === undefined ? value : on ? value | bit : value & ~bit;
  cpu.setCr4(
    set(
      set(set(set(cpu.cr4, CR4_PSE, bits.pse), CR4_PGE, bits.pge), CR4_SMEP, bits.smep),
      CR4_SMAP,
      bits.smap,
    ),
  );
  cpu.setEfer(set(cpu.efer, EFER_NXE, bits.nxe));
  cpu.setRflags(set(cpu.rflags, RFLAGS_AC, bits.ac));
  cpu.setCr0(set(cpu.cr0, CR0_WP, bits.wp));
}

/** Parses a linear address for the CPU's mode: canonical hex in 4-level paging. */
export function parseLinear(cpu: Cpu, text: string): number {
  const value = BigInt(text.replace(/_/g, ""));
  if (cpu.mode === "long") {
    const packed = packCanonical(value);
    if (packed < 0) throw new GeneralProtectionError(`linear address ${text} is not canonical`);
    return packed;
  }
  if (value < 0n || value >= 1n << 32n)
    throw new GeneralProtectionError(
      `linear address ${text} is outside the 32-bit linear address space`,
    );
  return Number(value);
}

/**
 * Explains the walk of `va` for an access of `kind`: each level read, then the physical address
 * or the exact fault with the rule that caused it. Changes nothing (no A/D, no TLB fill).
 */
export function explainWalk(
  cpu: Cpu,
  va: number,
  kind: AccessKind,
  options: { cpl?: number; implicit?: boolean } = {},
): WalkTrace {
  try {
    return cpu.explain(va, kind, options);
  } catch (error) {
    if (error instanceof BusError || error instanceof GeneralProtectionError) {
      return {
        mode: cpu.mode,
        address: va,
        access: kind,
        levels: [],
        ok: false,
        outcome: error.message,
      };
    }
    throw error;
  }
}

const MODE_NAMES: Record<PagingMode, string> = {
  none: "paging off",
  "32bit": "32-bit paging",
  pae: "PAE paging",
  long: "4-level paging",
};

/** The walk as readable text, one line per level. */
export function formatWalk(
  cpu: Cpu,
  trace: WalkTrace,
  options: { cpl?: number; implicit?: boolean } = {},
): string {
  const on = (value: number, bit: number) => ((value & bit) !== 0 ? 1 : 0);
  const cpl = options.cpl ?? cpu.cpl;
  const lines = [
    `${MODE_NAMES[trace.mode]}: ${options.implicit ? "implicit supervisor " : ""}${trace.access} of ${cpu.formatLinear(trace.address)} at CPL ${cpl}`,
    `  CR3 ${hex(cpu.cr3)}  CR0.WP=${on(cpu.cr0, CR0_WP)}  CR4.PSE=${on(cpu.cr4, CR4_PSE)} PGE=${on(cpu.cr4, CR4_PGE)} SMEP=${on(cpu.cr4, CR4_SMEP)} SMAP=${on(cpu.cr4, CR4_SMAP)}  EFER.NXE=${on(cpu.efer, EFER_NXE)}  RFLAGS.AC=${on(cpu.rflags, RFLAGS_AC)}  MAXPHYADDR=${cpu.maxPhysAddr}`,
  ];
  for (const level of trace.levels) {
    const label = `${level.name}[${level.index}]`.padEnd(22);
    lines.push(
      `  ${label} @ ${hex(level.entryAddress).padEnd(14)} = ${formatEntry(level)}  ${decodeEntryFlags(level)}`,
    );
  }
  lines.push(`  -> ${trace.outcome}`);
  return lines.join("\n") + "\n";
}
