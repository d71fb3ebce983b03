import {
  AllocatorError,
  PAGE_SIZE,
  formatCanonical,
  formatSize,
  hex,
  type Memory,
} from "@allockit/core";
import {
  DoubleFaultError,
  GeneralProtectionError,
  PageFaultError,
  type PageFaultInfo,
} from "./faults.js";
import {
  PF_I,
  PF_P,
  PF_RSVD,
  PF_U,
  PF_W,
  PTE_A,
  PTE_D,
  PTE_G,
  PTE_P,
  PTE_PS,
  PTE_RW,
  PTE_US,
  PTE_XD_HIGH,
} from "./paging/entry-bits.js";
import * as m32 from "./paging/mode-32bit.js";
import * as mlong from "./paging/mode-long.js";
import * as mpae from "./paging/mode-pae.js";
import { POOL_SHIFT, PhysicalRam } from "./physical-memory.js";
import {
  CR0_PE,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  CR4_PGE,
  CR4_PSE,
  CR4_SMEP,
  EFER_LMA,
  EFER_LME,
  EFER_NXE,
  RFLAGS_AC,
  type PagingMode,
} from "./registers.js";
import { accessAllowed, accessDeniedBecause } from "./rights.js";
import { TLB_DIRTY, TLB_GLOBAL, TLB_NX, TLB_USER, TLB_WRITABLE, Tlb } from "./tlb.js";
import type { WalkLevel, WalkTrace } from "./walk-trace.js";

import { FETCH, KIND_NAMES, READ, WRITE, type AccessKind } from "./rights.js";
export { FETCH, READ, WRITE, type AccessKind } from "./rights.js";

/** Called on a #PF; returns true when it resolved the fault (the access is retried). */
export type PageFaultHandler = (fault: PageFaultInfo) => boolean;

export interface CpuOptions {
  index: number;
  memory: PhysicalRam;
  /** MAXPHYADDR, 32 .. 52. */
  maxPhysAddr: number;
  /** 1 GiB pages in 4-level paging. */
  page1GB: boolean;
  tlbEntries?: number;
}

/** Counters of one CPU. */
export interface CpuCounters {
  hits: number;
  misses: number;
  walks: number;
  faults: number;
  flushes: number;
  invalidations: number;
}

const TWO_POW_32 = 4294967296;
/** 1/4096: exact, and a multiply is cheaper than a divide on the hit path. */
const INVERSE_PAGE_SIZE = 1 / PAGE_SIZE;
/** CR0.NW (bit 29), CR0.CD (bit 30): caching is not modelled, but changing them reloads PDPTEs. */
const CR0_NW = 1 << 29;
const CR0_CD = 1 << 30;
const TWO_POW_48 = 2 ** 48;
/** How often one access is retried after the handler says it resolved the fault. */
const MAX_FAULT_RETRIES = 8;
/** Page address of an empty last-page cache: `va - NO_PAGE` is never in 0 .. PAGE_SIZE - 1. */
const NO_PAGE = -Infinity;
/** The view of an empty last-page cache (never read: NO_PAGE misses first). */
const EMPTY_VIEW: DataView = new DataView(new ArrayBuffer(8));
/** Largest copy() that goes through the kept scratch buffer; larger ones get their own. */
const MAX_SCRATCH_BYTES = 1 << 20;

/** Copies `length` bytes between host arrays: a loop for short runs, set() for long ones. */
function copyBytes(
  from: Uint8Array,
  fromOffset: number,
  to: Uint8Array,
  toOffset: number,
  length: number,
): void {
  if (length <= 64) {
    for (let k = 0; k < length; k++) to[toOffset + k] = from[fromOffset + k]!;
  } else {
    to.set(from.subarray(fromOffset, fromOffset + length), toOffset);
  }
}

/**
 * One x86 CPU: control registers, CPL, a TLB and the MMU walk for 32-bit, PAE and 4-level
 * paging, exactly as the SDM's chapter 4 describes. It implements `Memory`, so data accessed
 * through it goes through the TLB and the page tables at the current CPL; a page fault goes to
 * the installed handler and the access is retried once it is resolved.
 */
export class Cpu implements Memory {
  readonly index: number;
  readonly memory: PhysicalRam;
  readonly tlb: Tlb;
  readonly maxPhysAddr: number;
  readonly page1GB: boolean;
  pageFaultHandler: PageFaultHandler | undefined;

  private cr0Value = CR0_PE;
  private cr2Value = 0;
  private cr3Value = 0;
  private cr4Value = 0;
  private eferValue = 0;
  private rflagsValue = 0x2;
  private cplValue = 0;
  private modeValue: PagingMode = "none";
  private readonly pdpteLow = new Uint32Array(4);
  private readonly pdpteHigh = new Uint32Array(4);

  // Whether an explicit access of each kind is allowed, by TLB flags, at the current CPL and
  // control bits; recomputed when any of those change.
  private readonly readOk = new Uint8Array(32);
  private readonly writeOk = new Uint8Array(32);
  // Hot-path views of the TLB.
  private readonly tlbTag: Float64Array;
  private readonly tlbReadTag: Float64Array;
  private readonly tlbWriteTag: Float64Array;
  private readonly tlbView: Array<DataView | undefined>;
  private readonly tlbViewOffset: Int32Array;
  private readonly tlbMask: number;
  private readonly tlbSlot: Int32Array;
  /** The physical memory's pools as bytes, indexed by slot >>> POOL_SHIFT (grows in place). */
  private readonly poolBytes: readonly Uint8Array[];
  /** TLB hits taken on the hit path (the slow path counts its own in the TLB). */
  private fastHits = 0;
  // The last-page caches of the hit path (see read8): the linear address of the page last read
  // (written) through a TLB hit, or NO_PAGE, and its backing page's view and offset.
  private readPage = NO_PAGE;
  private readView: DataView = EMPTY_VIEW;
  private readBase = 0;
  private writePage = NO_PAGE;
  private writeView: DataView = EMPTY_VIEW;
  private writeBase = 0;
  // copy()'s scratch buffer, and whether a copy is using it.
  private scratch = new Uint8Array(0);
  private copying = false;

  // Result of the last successful translation, and of the last failed one.
  private resultAddress = 0;
  private faultCode = 0;
  private faultReason = "";
  // Entries the last walk used (addresses and the low halves read), for the A/D updates.
  private readonly walkEntryAddress = new Float64Array(4);
  private readonly walkEntryLow = new Uint32Array(4);
  private walkLeafShift = 12;

  private handling: PageFaultInfo | undefined;
  walks = 0;
  faults = 0;

  constructor(options: CpuOptions) {
    if (
      !Number.isInteger(options.maxPhysAddr) ||
      options.maxPhysAddr < 32 ||
      options.maxPhysAddr > 52
    ) {
      throw new AllocatorError(
        "EINVAL",
        `MAXPHYADDR ${options.maxPhysAddr} is not in 32 .. 52`,
        options.maxPhysAddr,
      );
    }
    this.index = options.index;
    this.memory = options.memory;
    this.maxPhysAddr = options.maxPhysAddr;
    this.page1GB = options.page1GB;
    this.tlb = new Tlb(options.tlbEntries);
    this.tlbTag = this.tlb.tag;
    this.tlbReadTag = this.tlb.readTag;
    this.tlbWriteTag = this.tlb.writeTag;
    this.tlbView = this.tlb.view;
    this.tlbViewOffset = this.tlb.viewOffset;
    this.tlbMask = this.tlb.mask;
    this.tlbSlot = this.tlb.slot;
    this.poolBytes = this.memory.poolBytes;
    this.tlb.onChange = () => this.dropPageCaches();
    this.updateRights();
  }

  // ------------------------------------------------------------------ registers

  get cr0(): number {
    return this.cr0Value;
  }
  get cr2(): number {
    return this.cr2Value;
  }
  get cr3(): number {
    return this.cr3Value;
  }
  get cr4(): number {
    return this.cr4Value;
  }
  get efer(): number {
    return this.eferValue;
  }
  get rflags(): number {
    return this.rflagsValue;
  }
  get cpl(): number {
    return this.cplValue;
  }
  /** The paging mode the control registers select. */
  get mode(): PagingMode {
    return this.modeValue;
  }

  /** MOV to CR0. Changing PG or WP flushes the TLB; enabling PAE paging loads the PDPTEs. */
  setCr0(value: number): void {
    value >>>= 0;
    const pg = (value & CR0_PG) !== 0;
    if (pg && (value & CR0_PE) === 0)
      throw new GeneralProtectionError(`CR0 ${hex(value)}: PG=1 with PE=0`);
    if (pg && (this.eferValue & EFER_LME) !== 0 && (this.cr4Value & CR4_PAE) === 0) {
      throw new GeneralProtectionError(`CR0.PG=1 with EFER.LME=1 needs CR4.PAE=1`);
    }
    const nextMode = this.modeFor(value, this.cr4Value, this.eferValue);
    // SDM vol. 3A 4.4.1: when PAE paging is in use after a MOV to CR0 that modifies CR0.CD,
    // CR0.NW or CR0.PG, the PDPTEs are loaded from CR3 (#GP on reserved bits, CR0 unchanged).
    if (nextMode === "pae" && ((this.cr0Value ^ value) & (CR0_CD | CR0_NW | CR0_PG)) !== 0) {
      this.loadPdptes(this.cr3Value);
    }
    const changed = (this.cr0Value ^ value) & (CR0_PG | CR0_WP);
    this.cr0Value = value;
    this.eferValue = nextMode === "long" ? this.eferValue | EFER_LMA : this.eferValue & ~EFER_LMA;
    this.modeValue = nextMode;
    if (changed !== 0) this.tlb.flush(false);
    this.updateRights();
  }

  /**
   * MOV to CR4. Changing PGE, PAE, PSE or SMEP flushes the TLB, global entries too, and with PAE
   * paging reloads the PDPTEs.
   */
  setCr4(value: number): void {
    value >>>= 0;
    if (this.modeValue === "long" && (value & CR4_PAE) === 0) {
      throw new GeneralProtectionError("clearing CR4.PAE in IA-32e mode");
    }
    const nextMode = this.modeFor(this.cr0Value, value, this.eferValue);
    // SDM vol. 3A 4.4.1: when PAE paging is in use after a MOV to CR4 that modifies CR4.PAE,
    // CR4.PGE, CR4.PSE or CR4.SMEP, the PDPTEs are reloaded from CR3 (#GP on reserved bits, CR4
    // unchanged), not only when PAE itself changes.
    const pdpteReload = CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP;
    if (nextMode === "pae" && ((this.cr4Value ^ value) & pdpteReload) !== 0) {
      this.loadPdptes(this.cr3Value);
    }
    const changed = (this.cr4Value ^ value) & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMEP);
    this.cr4Value = value;
    this.modeValue = nextMode;
    if (changed !== 0) this.tlb.flush(false);
    this.updateRights();
  }

  /** WRMSR IA32_EFER. LME may not change while paging is on; NXE changes flush the TLB. */
  setEfer(value: number): void {
    value >>>= 0;
    if ((this.cr0Value & CR0_PG) !== 0 && ((this.eferValue ^ value) & EFER_LME) !== 0) {
      throw new GeneralProtectionError("changing EFER.LME while CR0.PG=1");
    }
    const changed = (this.eferValue ^ value) & EFER_NXE;
    const lma = this.eferValue & EFER_LMA;
    this.eferValue = (value & ~EFER_LMA) | lma;
    if (changed !== 0) this.tlb.flush(false);
    this.updateRights();
  }

  /**
   * MOV to CR3: loads the PDPTEs in PAE mode (#GP on reserved bits, CR3 unchanged) and drops
   * every non-global TLB entry.
   */
  setCr3(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new GeneralProtectionError(`CR3 value ${String(value)}`);
    const limit = this.modeValue === "long" ? 2 ** this.maxPhysAddr : TWO_POW_32;
    if (value >= limit) {
      throw new GeneralProtectionError(
        `CR3 ${hex(value)} sets bits at or above MAXPHYADDR (${this.maxPhysAddr})`,
      );
    }
    if (this.modeValue === "pae") this.loadPdptes(value);
    this.cr3Value = value;
    this.tlb.flush(true);
  }

  setRflags(value: number): void {
    this.rflagsValue = value >>> 0;
    this.updateRights();
  }

  /** Sets or clears RFLAGS.AC (STAC / CLAC). */
  setAc(on: boolean): void {
    this.setRflags(on ? this.rflagsValue | RFLAGS_AC : this.rflagsValue & ~RFLAGS_AC);
  }

  /** Current privilege level, 0 .. 3 (3 is user mode). */
  setCpl(cpl: number): void {
    if (cpl !== 0 && cpl !== 1 && cpl !== 2 && cpl !== 3) {
      throw new AllocatorError("EINVAL", `CPL ${String(cpl)} is not 0 .. 3`, cpl);
    }
    this.cplValue = cpl;
    this.updateRights();
  }

  /**
   * Turns paging on in `mode` with `cr3` (and off with "none"), setting PE, PAE, LME and PG as
   * that mode needs, in the order the SDM requires. Other bits keep their values.
   */
  enablePaging(mode: PagingMode, cr3: number): void {
    this.setCr0(this.cr0Value & ~CR0_PG);
    if (mode === "none") return;
    this.setCr4(mode === "32bit" ? this.cr4Value & ~CR4_PAE : this.cr4Value | CR4_PAE);
    this.setEfer(mode === "long" ? this.eferValue | EFER_LME : this.eferValue & ~EFER_LME);
    this.cr3Value = cr3;
    this.setCr0(this.cr0Value | CR0_PE | CR0_PG);
    this.setCr3(cr3);
  }

  /** INVLPG: drops the page's translation (global or not, the whole large page). */
  invlpg(va: number): void {
    this.tlb.invalidatePage(va);
  }

  counters(): CpuCounters {
    return {
      hits: this.tlb.hits + this.fastHits,
      misses: this.tlb.misses,
      walks: this.walks,
      faults: this.faults,
      flushes: this.tlb.flushes,
      invalidations: this.tlb.invalidations,
    };
  }

  private modeFor(cr0: number, cr4: number, efer: number): PagingMode {
    if ((cr0 & CR0_PG) === 0) return "none";
    if ((cr4 & CR4_PAE) === 0) return "32bit";
    return (efer & EFER_LME) !== 0 ? "long" : "pae";
  }

  private loadPdptes(cr3: number): void {
    const base = mpae.pdptBase(cr3);
    const reservedHigh = mpae.highReservedMask(this.maxPhysAddr, true);
    const low = new Uint32Array(4);
    const high = new Uint32Array(4);
    for (let i = 0; i < 4; i++) {
      low[i] = this.memory.read32(base + i * 8);
      high[i] = this.memory.read32(base + i * 8 + 4);
      if (
        (low[i]! & PTE_P) !== 0 &&
        ((low[i]! & mpae.PDPTE_RESERVED_LOW) !== 0 || (high[i]! & reservedHigh) !== 0)
      ) {
        throw new GeneralProtectionError(
          `PDPTE ${i} at ${hex(base + i * 8)} = ${hex64(high[i]!, low[i]!)} sets reserved bits ` +
            `(${hex64(high[i]! & reservedHigh, low[i]! & mpae.PDPTE_RESERVED_LOW)}) while loading PDPTEs from CR3 ${hex(cr3)}`,
        );
      }
    }
    this.pdpteLow.set(low);
    this.pdpteHigh.set(high);
  }

  // ------------------------------------------------------------------ rights

  private updateRights(): void {
    const user = this.cplValue === 3;
    for (let flags = 0; flags < 32; flags++) {
      this.readOk[flags] = this.allows(READ, flags, user, false) ? 1 : 0;
      this.writeOk[flags] =
        (flags & TLB_DIRTY) !== 0 && this.allows(WRITE, flags, user, false) ? 1 : 0;
    }
    // The hit-path tags were computed for the old context: recompute them, or a translation
    // filled at CPL 0 (or with WP=0, SMAP=0, AC=1) would keep being honoured at CPL 3 (or with
    // WP=1, SMAP=1, AC=0). SDM vol. 3A 4.6.1 decides every access with the current CPL, CR0.WP,
    // CR4.SMEP/SMAP and RFLAGS.AC; a TLB entry caches only the paging rights (4.10.2.2).
    this.tlb.rebuildFast(this.readOk, this.writeOk);
  }

  /** SDM 4.6.1 with the current control bits: see rights.ts. */
  private allows(kind: number, flags: number, user: boolean, implicit: boolean): boolean {
    return accessAllowed(
      kind,
      flags,
      user,
      implicit,
      this.cr0Value,
      this.cr4Value,
      this.rflagsValue,
    );
  }

  private deniedBecause(kind: number, flags: number, user: boolean, implicit: boolean): string {
    return accessDeniedBecause(kind, flags, user, implicit, this.cr4Value);
  }

  // ------------------------------------------------------------------ data access (Memory)

  // The hit path. Each access first tries a one-entry cache of the last page read (written):
  // the page's linear address and its backing page's view and offset, copied from a TLB entry
  // whose hit-path tag allowed the access. It is part of the TLB, not a second level: it only
  // ever holds what a TLB entry holds, is dropped whenever any entry is filled, dropped or
  // retagged (Tlb.onChange: INVLPG, CR3 / CR0 / CR4 / EFER writes, rights changes, faults), and
  // a hit on it counts as a TLB hit. A miss there looks the TLB up (and refills the cache on a
  // hit); a TLB miss, a page-crossing access or an unbacked page takes the slow path.

  read8(va: number): number {
    const d = va - this.readPage;
    if (d >= 0 && d < PAGE_SIZE) {
      this.fastHits++;
      return this.readView.getUint8(this.readBase + d);
    }
    return this.read8Tlb(va);
  }

  read16(va: number): number {
    const d = va - this.readPage;
    if (d >= 0 && d <= PAGE_SIZE - 2) {
      this.fastHits++;
      return this.readView.getUint16(this.readBase + d, true);
    }
    return this.readTlb(va, 2);
  }

  read32(va: number): number {
    const d = va - this.readPage;
    if (d >= 0 && d <= PAGE_SIZE - 4) {
      this.fastHits++;
      return this.readView.getUint32(this.readBase + d, true);
    }
    return this.readTlb(va, 4);
  }

  write8(va: number, value: number): void {
    const d = va - this.writePage;
    if (d >= 0 && d < PAGE_SIZE) {
      this.fastHits++;
      this.writeView.setUint8(this.writeBase + d, value);
      return;
    }
    this.writeTlb(va, 1, value);
  }

  write16(va: number, value: number): void {
    const d = va - this.writePage;
    if (d >= 0 && d <= PAGE_SIZE - 2) {
      this.fastHits++;
      this.writeView.setUint16(this.writeBase + d, value, true);
      return;
    }
    this.writeTlb(va, 2, value);
  }

  write32(va: number, value: number): void {
    const d = va - this.writePage;
    if (d >= 0 && d <= PAGE_SIZE - 4) {
      this.fastHits++;
      this.writeView.setUint32(this.writeBase + d, value >>> 0, true);
      return;
    }
    this.writeTlb(va, 4, value);
  }

  /** read8 past the last-page cache: the TLB's read tag, else the slow path. */
  private read8Tlb(va: number): number {
    const vpn = Math.floor(va * INVERSE_PAGE_SIZE);
    const i = vpn & this.tlbMask;
    if (this.tlbReadTag[i] === vpn) {
      this.fastHits++;
      const base = this.tlbViewOffset[i]!;
      const view = this.tlbView[i]!;
      this.cacheRead(vpn, view, base);
      return view.getUint8(base + (va - vpn * PAGE_SIZE));
    }
    return this.access(va, 1, READ, 0);
  }

  /** read16 / read32 past the last-page cache. */
  private readTlb(va: number, width: number): number {
    const vpn = Math.floor(va * INVERSE_PAGE_SIZE);
    const i = vpn & this.tlbMask;
    const offset = va - vpn * PAGE_SIZE;
    if (this.tlbReadTag[i] === vpn && offset <= PAGE_SIZE - width) {
      this.fastHits++;
      const base = this.tlbViewOffset[i]!;
      const view = this.tlbView[i]!;
      this.cacheRead(vpn, view, base);
      return width === 4
        ? view.getUint32(base + offset, true)
        : view.getUint16(base + offset, true);
    }
    return this.access(va, width, READ, 0);
  }

  /** write8 / write16 / write32 past the last-page cache. */
  private writeTlb(va: number, width: number, value: number): void {
    const vpn = Math.floor(va * INVERSE_PAGE_SIZE);
    const i = vpn & this.tlbMask;
    const offset = va - vpn * PAGE_SIZE;
    if (this.tlbWriteTag[i] === vpn && offset <= PAGE_SIZE - width) {
      this.fastHits++;
      const base = this.tlbViewOffset[i]!;
      const view = this.tlbView[i]!;
      this.cacheWrite(vpn, view, base);
      if (width === 4) view.setUint32(base + offset, value >>> 0, true);
      else if (width === 2) view.setUint16(base + offset, value, true);
      else view.setUint8(base + offset, value);
      return;
    }
    this.access(va, width, WRITE, value);
  }

  private cacheRead(vpn: number, view: DataView, base: number): void {
    this.readPage = vpn * PAGE_SIZE;
    // Pages share a view per 1 MiB pool: skip the store (and its write barrier) when unchanged.
    if (this.readView !== view) this.readView = view;
    this.readBase = base;
  }

  private cacheWrite(vpn: number, view: DataView, base: number): void {
    this.writePage = vpn * PAGE_SIZE;
    if (this.writeView !== view) this.writeView = view;
    this.writeBase = base;
  }

  /** Forgets both last-page caches (any TLB change). */
  private dropPageCaches(): void {
    this.readPage = NO_PAGE;
    this.writePage = NO_PAGE;
  }

  fill(va: number, byte: number, length: number): void {
    if (!(length > 0)) return;
    let at = va;
    const end = va + length;
    while (at < end) {
      const vpn = Math.floor(at * INVERSE_PAGE_SIZE);
      const offset = at - vpn * PAGE_SIZE;
      const run = Math.min(PAGE_SIZE - offset, end - at);
      const i = vpn & this.tlbMask;
      if (this.tlbWriteTag[i] === vpn) {
        this.fastHits++;
        const start = this.tlbViewOffset[i]! + offset;
        this.poolBytes[this.tlbSlot[i]! >>> POOL_SHIFT]!.fill(byte, start, start + run);
      } else {
        const pa = this.translateFor(at, WRITE, this.cplValue === 3, false);
        this.memory.fill(pa, byte, run);
        this.refreshSlot(at, pa);
      }
      at += run;
    }
  }

  copy(dst: number, src: number, length: number): void {
    if (!(length > 0)) return;
    // memmove: the whole source is read (faulting in as needed) before the first byte is
    // written, through a scratch buffer kept between calls (a fresh one if a fault handler
    // copies while this copy is under way).
    const reuse = !this.copying && length <= MAX_SCRATCH_BYTES;
    let scratch: Uint8Array;
    if (reuse) {
      if (this.scratch.length < length) {
        this.scratch = new Uint8Array(Math.max(length, 2 * this.scratch.length));
      }
      scratch = this.scratch;
      this.copying = true;
    } else {
      scratch = new Uint8Array(length);
    }
    try {
      this.readInto(src, length, scratch);
      this.writeFrom(dst, length, scratch);
    } finally {
      if (reuse) this.copying = false;
    }
  }

  readBytes(va: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    if (length > 0) this.readInto(va, length, out);
    return out;
  }

  writeBytes(va: number, bytes: Uint8Array): void {
    if (bytes.length > 0) this.writeFrom(va, bytes.length, bytes);
  }

  /** Copies `length` bytes at `va` into `out[0 ..]`, page by page. */
  private readInto(va: number, length: number, out: Uint8Array): void {
    let at = va;
    let done = 0;
    while (done < length) {
      const vpn = Math.floor(at * INVERSE_PAGE_SIZE);
      const offset = at - vpn * PAGE_SIZE;
      const run = Math.min(PAGE_SIZE - offset, length - done);
      const i = vpn & this.tlbMask;
      if (this.tlbReadTag[i] === vpn) {
        this.fastHits++;
        const start = this.tlbViewOffset[i]! + offset;
        copyBytes(this.poolBytes[this.tlbSlot[i]! >>> POOL_SHIFT]!, start, out, done, run);
      } else {
        const pa = this.translateFor(at, READ, this.cplValue === 3, false);
        this.memory.readInto(pa, run, out, done);
      }
      at += run;
      done += run;
    }
  }

  /** Copies `bytes[0 .. length)` to `va`, page by page. */
  private writeFrom(va: number, length: number, bytes: Uint8Array): void {
    let at = va;
    let done = 0;
    while (done < length) {
      const vpn = Math.floor(at * INVERSE_PAGE_SIZE);
      const offset = at - vpn * PAGE_SIZE;
      const run = Math.min(PAGE_SIZE - offset, length - done);
      const i = vpn & this.tlbMask;
      if (this.tlbWriteTag[i] === vpn) {
        this.fastHits++;
        const start = this.tlbViewOffset[i]! + offset;
        copyBytes(bytes, done, this.poolBytes[this.tlbSlot[i]! >>> POOL_SHIFT]!, start, run);
      } else {
        const pa = this.translateFor(at, WRITE, this.cplValue === 3, false);
        this.memory.writeFrom(pa, run, bytes, done);
        this.refreshSlot(at, pa);
      }
      at += run;
      done += run;
    }
  }

  /** The slow path of a data access: misses, page-crossing, unbacked pages, devices, faults. */
  private access(va: number, width: number, kind: number, value: number): number {
    if (va - Math.floor(va * INVERSE_PAGE_SIZE) * PAGE_SIZE + width > PAGE_SIZE) {
      // Split at the page boundary: each byte translates (and may fault) on its own.
      let result = 0;
      for (let i = 0; i < width; i++) {
        if (kind === WRITE) this.access(va + i, 1, WRITE, (value >>> (8 * i)) & 0xff);
        else result += this.access(va + i, 1, READ, 0) * 2 ** (8 * i);
      }
      return result;
    }
    const pa = this.translateFor(va, kind, this.cplValue === 3, false);
    if (kind === WRITE) {
      this.memory.write(pa, width, value);
      this.refreshSlot(va, pa);
      return 0;
    }
    return this.memory.read(pa, width);
  }

  /** After a write backs a page, lets the TLB entry reach it on the hit path. */
  private refreshSlot(va: number, pa: number): void {
    const vpn = Math.floor(va / PAGE_SIZE);
    const i = vpn & this.tlbMask;
    if (this.tlbTag[i] === vpn && this.tlb.slot[i]! < 0)
      this.attachBacking(i, pa - (pa % PAGE_SIZE));
  }

  /** Points TLB entry `i` at the backing page of `frame` (if it is plain RAM and written). */
  private attachBacking(i: number, frame: number): void {
    const mem = this.memory;
    const slot = mem.isRam(frame, PAGE_SIZE) ? mem.pageSlot(frame, false) : -1;
    if (slot < 0) this.tlb.setFast(i, -1, undefined, 0, this.readOk, this.writeOk);
    else
      this.tlb.setFast(
        i,
        slot,
        mem.pools[slot >>> 8],
        PhysicalRam.slotOffset(slot),
        this.readOk,
        this.writeOk,
      );
  }

  // ------------------------------------------------------------------ translation

  /**
   * Physical address for an access of `kind` at the current CPL, as the CPU would do it before
   * touching the data: TLB, walk, checks, A/D updates; a #PF goes to the handler and the
   * translation is retried once it is resolved. Unresolved: PageFaultError.
   */
  translate(va: number, kind: AccessKind = "read"): number {
    return this.translateFor(va, KIND_NAMES.indexOf(kind), this.cplValue === 3, false);
  }

  /**
   * One translation attempt with no fault handler, for scenario steps and explanations:
   * `cpl` and `implicit` describe the access. Returns the physical address; a fault is thrown
   * as PageFaultError (after setting CR2 and dropping the page's TLB entries, as a #PF does)
   * and a non-canonical address as GeneralProtectionError.
   */
  probe(va: number, kind: AccessKind, options: { cpl?: number; implicit?: boolean } = {}): number {
    const user = (options.cpl ?? this.cplValue) === 3 && options.implicit !== true;
    const kindIndex = KIND_NAMES.indexOf(kind);
    if (this.tryTranslate(va, kindIndex, user, options.implicit === true, null))
      return this.resultAddress;
    throw this.recordFault(va, kindIndex, options.implicit === true);
  }

  /** Translates with a trace of every level, without touching the TLB (for the walk explainer). */
  explain(
    va: number,
    kind: AccessKind,
    options: { cpl?: number; implicit?: boolean } = {},
  ): WalkTrace {
    const user = (options.cpl ?? this.cplValue) === 3 && options.implicit !== true;
    const trace: WalkTrace = {
      mode: this.modeValue,
      address: va,
      access: kind,
      levels: [],
      ok: false,
      outcome: "",
    };
    this.checkLinear(va);
    if (this.modeValue === "none") {
      trace.ok = true;
      trace.physical = va;
      trace.outcome = `paging is off (CR0.PG=0): physical ${hex(va)}`;
      return trace;
    }
    const ok = this.walk(
      va,
      KIND_NAMES.indexOf(kind),
      user,
      options.implicit === true,
      trace,
      false,
    );
    trace.ok = ok;
    if (ok) {
      trace.physical = this.resultAddress;
      trace.outcome = `physical ${hex(this.resultAddress)} (${formatSize(2 ** this.walkLeafShift)} page)`;
    } else {
      trace.errorCode = this.faultCode;
      trace.outcome = `#PF error code ${hex(this.faultCode)}: ${this.faultReason}`;
    }
    return trace;
  }

  private translateFor(va: number, kind: number, user: boolean, implicit: boolean): number {
    for (let attempt = 0; ; attempt++) {
      if (this.tryTranslate(va, kind, user, implicit, null)) return this.resultAddress;
      const fault = this.recordFault(va, kind, implicit);
      this.deliver(fault, attempt);
    }
  }

  /** #GP for a linear address the mode cannot hold (non-canonical in 4-level paging). */
  private checkLinear(va: number): void {
    const limit = this.modeValue === "long" ? TWO_POW_48 : TWO_POW_32;
    if (!(Number.isSafeInteger(va) && va >= 0 && va < limit)) {
      throw new GeneralProtectionError(
        this.modeValue === "long"
          ? `linear address ${String(va)} is not canonical (not a packed 48-bit address)`
          : `linear address ${String(va)} is outside the 32-bit linear address space`,
      );
    }
  }

  /** TLB, then walk. True with `resultAddress` set, or false with the fault recorded. */
  private tryTranslate(
    va: number,
    kind: number,
    user: boolean,
    implicit: boolean,
    trace: WalkTrace | null,
  ): boolean {
    this.checkLinear(va);
    if (this.modeValue === "none") {
      this.resultAddress = va;
      return true;
    }
    const vpn = Math.floor(va / PAGE_SIZE);
    const i = vpn & this.tlbMask;
    if (this.tlbTag[i] === vpn) {
      const flags = this.tlb.flags[i]!;
      if (!this.allows(kind, flags, user, implicit)) {
        // The cached rights decide, as on hardware (a stale, stricter entry faults spuriously).
        this.faultCode = PF_P | this.accessBits(kind, user);
        this.faultReason = `${this.deniedBecause(kind, flags, user, implicit)} (rights from the TLB entry)`;
        return false;
      }
      if (kind !== WRITE || (flags & TLB_DIRTY) !== 0) {
        this.tlb.hits++;
        this.resultAddress = this.tlb.frame[i]! + (va - vpn * PAGE_SIZE);
        return true;
      }
      // A write through an entry filled by a read: walk again so D gets set.
    }
    this.tlb.misses++;
    return this.walk(va, kind, user, implicit, trace, true);
  }

  private accessBits(kind: number, user: boolean): number {
    let bits = 0;
    if (kind === WRITE) bits |= PF_W;
    if (user) bits |= PF_U;
    if (kind === FETCH && this.fetchBitApplies()) bits |= PF_I;
    return bits;
  }

  /** SDM 4.7: I is reported only when SMEP is on, or NXE is on in PAE / 4-level paging. */
  private fetchBitApplies(): boolean {
    return (
      (this.cr4Value & CR4_SMEP) !== 0 ||
      ((this.cr4Value & CR4_PAE) !== 0 && (this.eferValue & EFER_NXE) !== 0)
    );
  }

  /** Sets CR2, drops the page's TLB entries, counts, and returns the fault as an error. */
  private recordFault(va: number, kind: number, implicit: boolean): PageFaultError {
    this.faults++;
    this.cr2Value = va;
    this.tlb.invalidatePage(va);
    const info: PageFaultInfo = {
      address: va,
      errorCode: this.faultCode,
      access: KIND_NAMES[kind]!,
      cpl: this.cplValue,
      implicit,
      cpu: this.index,
      reason: this.faultReason,
    };
    return new PageFaultError(info, this.formatLinear(va));
  }

  /** Runs the fault handler; returns when it resolved the fault, throws otherwise. */
  private deliver(fault: PageFaultError, attempt: number): void {
    if (this.handling !== undefined) throw new DoubleFaultError(this.handling, fault);
    const handler = this.pageFaultHandler;
    if (handler === undefined) throw fault;
    if (attempt >= MAX_FAULT_RETRIES) {
      throw new PageFaultError(fault.info, this.formatLinear(fault.info.address), [
        `the fault handler reported it resolved ${attempt} times, but the access still faults`,
      ]);
    }
    this.handling = fault.info;
    let resolved: boolean;
    try {
      resolved = handler(fault.info);
    } finally {
      this.handling = undefined;
    }
    if (!resolved) throw fault;
  }

  /** A linear address as the mode prints it (canonical form in 4-level paging). */
  formatLinear(va: number): string {
    return this.modeValue === "long" ? formatCanonical(va) : hex(va);
  }

  // ------------------------------------------------------------------ the walk

  private notPresent(kind: number, user: boolean, what: string, at: number, value: string): false {
    this.faultCode = this.accessBits(kind, user);
    this.faultReason = `${what} at ${hex(at)} is not present (P=0): ${value}`;
    return false;
  }

  private reserved(
    kind: number,
    user: boolean,
    what: string,
    at: number,
    value: string,
    bits: string,
    rule: string,
  ): false {
    this.faultCode = PF_P | PF_RSVD | this.accessBits(kind, user);
    this.faultReason = `${what} at ${hex(at)} = ${value} sets reserved bits ${bits} (${rule})`;
    return false;
  }

  private level(
    trace: WalkTrace | null,
    name: string,
    index: number,
    at: number,
    low: number,
    high: number,
    wide: boolean,
  ): void {
    if (trace === null) return;
    const entry: WalkLevel = { name, index, entryAddress: at, low, high, wide };
    trace.levels.push(entry);
  }

  /**
   * The page walk of SDM chapter 4 for the current mode: each level's P, then its reserved
   * bits, then (with the translation complete) the combined rights. On success it leaves the
   * physical address in `resultAddress` and, when `commit`, sets A in every entry used and D in
   * the leaf for a write and fills the TLB. A failing walk modifies nothing.
   */
  private walk(
    va: number,
    kind: number,
    user: boolean,
    implicit: boolean,
    trace: WalkTrace | null,
    commit: boolean,
  ): boolean {
    this.walks++;
    const mem = this.memory;
    const nxe = (this.eferValue & EFER_NXE) !== 0;
    const M = this.maxPhysAddr;
    let writable = true;
    let userPage = true;
    let noExecute = false;
    let entries = 0;
    let leafLow = 0;
    let pageBase = 0;
    let shift = 12;

    switch (this.modeValue) {
      case "32bit": {
        const pdeAddr = m32.directoryBase(this.cr3Value) + m32.pdeIndex(va) * 4;
        const pde = mem.read32(pdeAddr);
        this.level(trace, "PDE", m32.pdeIndex(va), pdeAddr, pde, 0, false);
        if ((pde & PTE_P) === 0) return this.notPresent(kind, user, "PDE", pdeAddr, hex(pde, 8));
        this.walkEntryAddress[entries] = pdeAddr;
        this.walkEntryLow[entries++] = pde;
        writable &&= (pde & PTE_RW) !== 0;
        userPage &&= (pde & PTE_US) !== 0;
        if ((pde & PTE_PS) !== 0 && (this.cr4Value & CR4_PSE) !== 0) {
          const bad = pde & m32.largePageReservedMask(M);
          if (bad !== 0) {
            return this.reserved(
              kind,
              user,
              "4 MiB PDE",
              pdeAddr,
              hex(pde, 8),
              hex(bad),
              `bits 21:${Math.min(M, 40) - 19} of a 4 MiB PDE with MAXPHYADDR ${M}`,
            );
          }
          leafLow = pde;
          pageBase = m32.largePageHighBits(pde) * TWO_POW_32 + ((pde & 0xffc00000) >>> 0);
          shift = 22;
          break;
        }
        const pteAddr = ((pde & 0xfffff000) >>> 0) + m32.pteIndex(va) * 4;
        const pte = mem.read32(pteAddr);
        this.level(trace, "PTE", m32.pteIndex(va), pteAddr, pte, 0, false);
        if ((pte & PTE_P) === 0) return this.notPresent(kind, user, "PTE", pteAddr, hex(pte, 8));
        this.walkEntryAddress[entries] = pteAddr;
        this.walkEntryLow[entries++] = pte;
        writable &&= (pte & PTE_RW) !== 0;
        userPage &&= (pte & PTE_US) !== 0;
        leafLow = pte;
        pageBase = (pte & 0xfffff000) >>> 0;
        break;
      }

      case "pae":
      case "long": {
        // PML4E, PDPTE, PDE, PTE: one 8-byte entry shape, with a large page possible at the
        // PDPTE (1 GiB) and the PDE (2 MiB). PAE paging starts at the PDE, below its PDPTE
        // registers (loaded at the CR3 write, so they are not read here).
        let depth = 0;
        let tableAt = Math.floor(this.cr3Value / PAGE_SIZE) * PAGE_SIZE;
        let reservedHigh = mlong.highReservedMask(M, !nxe);
        if (this.modeValue === "pae") {
          const index = mpae.pdpteIndex(va);
          const pdpteLow = this.pdpteLow[index]!;
          const pdpteHigh = this.pdpteHigh[index]!;
          const pdpteAt = mpae.pdptBase(this.cr3Value) + index * 8;
          this.level(trace, "PDPTE (register)", index, pdpteAt, pdpteLow, pdpteHigh, true);
          if ((pdpteLow & PTE_P) === 0) {
            return this.notPresent(
              kind,
              user,
              "PDPTE register",
              pdpteAt,
              hex64(pdpteHigh, pdpteLow),
            );
          }
          depth = 2;
          tableAt = mlong.entryAddress(pdpteLow, pdpteHigh);
          reservedHigh = mpae.highReservedMask(M, !nxe);
        }
        for (; depth < 4; depth++) {
          const name = LONG_LEVELS[depth]!;
          const index = Math.floor(va / LEVEL_SPAN[depth]!) & 511;
          const at = tableAt + index * 8;
          const low = mem.read32(at);
          const high = mem.read32(at + 4);
          this.level(trace, name, index, at, low, high, true);
          if ((low & PTE_P) === 0) return this.notPresent(kind, user, name, at, hex64(high, low));
          if ((high & reservedHigh) !== 0) {
            return this.reserved(
              kind,
              user,
              name,
              at,
              hex64(high, low),
              hex64(high & reservedHigh, 0),
              highRule(this.modeValue, M, nxe),
            );
          }
          const large = depth > 0 && depth < 3 && (low & PTE_PS) !== 0;
          if (depth === 0 && (low & PTE_PS) !== 0) {
            return this.reserved(
              kind,
              user,
              name,
              at,
              hex64(high, low),
              hex(PTE_PS),
              "PS (bit 7) of a PML4E",
            );
          }
          if (large && depth === 1 && !this.page1GB) {
            return this.reserved(
              kind,
              user,
              name,
              at,
              hex64(high, low),
              hex(PTE_PS),
              "PS (bit 7) of a PDPTE on a CPU without 1 GiB pages",
            );
          }
          if (large) {
            const lowMask =
              depth === 1 ? mlong.HUGE_PAGE_RESERVED_LOW : mlong.LARGE_PAGE_RESERVED_LOW;
            if ((low & lowMask) !== 0) {
              return this.reserved(
                kind,
                user,
                depth === 1 ? "1 GiB PDPTE" : "2 MiB PDE",
                at,
                hex64(high, low),
                hex(low & lowMask),
                depth === 1 ? "bits 29:13 of a 1 GiB PDPTE" : "bits 20:13 of a 2 MiB PDE",
              );
            }
          }
          this.walkEntryAddress[entries] = at;
          this.walkEntryLow[entries++] = low;
          writable &&= (low & PTE_RW) !== 0;
          userPage &&= (low & PTE_US) !== 0;
          noExecute ||= nxe && (high & PTE_XD_HIGH) !== 0;
          if (large || depth === 3) {
            shift = depth === 1 ? 30 : depth === 2 ? 21 : 12;
            leafLow = low;
            const pageMask = shift === 30 ? 0xc0000000 : shift === 21 ? 0xffe00000 : 0xfffff000;
            pageBase = mlong.entryAddress(low & pageMask, high);
            break;
          }
          tableAt = mlong.entryAddress(low, high);
        }
        break;
      }

      default:
        this.resultAddress = va;
        return true;
    }

    let flags = 0;
    if (writable) flags |= TLB_WRITABLE;
    if (userPage) flags |= TLB_USER;
    if (noExecute) flags |= TLB_NX;
    if ((leafLow & PTE_G) !== 0 && (this.cr4Value & CR4_PGE) !== 0) flags |= TLB_GLOBAL;
    if (!this.allows(kind, flags, user, implicit)) {
      this.faultCode = PF_P | this.accessBits(kind, user);
      this.faultReason = this.deniedBecause(kind, flags, user, implicit);
      return false;
    }

    if (kind === WRITE || (leafLow & PTE_D) !== 0) flags |= TLB_DIRTY;
    this.walkLeafShift = shift;
    // Not `%`: linear addresses above 2^31 are doubles, for which `%` is a library call.
    const span = 2 ** shift;
    this.resultAddress = pageBase + (va - Math.floor(va / span) * span);
    if (commit) {
      // A in every entry used, D in the leaf on a write. Each is re-read before the update,
      // since one entry may serve at two levels (recursive mappings).
      for (let e = 0; e < entries; e++) {
        const want = PTE_A | (e === entries - 1 && kind === WRITE ? PTE_D : 0);
        if ((this.walkEntryLow[e]! & want) !== want) {
          const at = this.walkEntryAddress[e]!;
          mem.write32(at, mem.read32(at) | want);
        }
      }
      const vpn = Math.floor(va / PAGE_SIZE);
      const frame = this.resultAddress - (va - vpn * PAGE_SIZE);
      this.tlb.fill(vpn, frame, flags, shift);
      this.attachBacking(vpn & this.tlbMask, frame);
    }
    return true;
  }
}

const LONG_LEVELS = ["PML4E", "PDPTE", "PDE", "PTE"] as const;
/** Bytes one entry maps at each level of 4-level paging (PAE starts at depth 2). */
const LEVEL_SPAN = [2 ** 39, 2 ** 30, 2 ** 21, 2 ** 12] as const;

function highRule(mode: PagingMode, maxPhysAddr: number, nxe: boolean): string {
  const range = mode === "pae" ? `62:${maxPhysAddr}` : `51:${maxPhysAddr}`;
  return `${mode === "pae" ? "PAE" : "4-level"} entries reserve bits ${range} with MAXPHYADDR ${maxPhysAddr}${nxe ? "" : ", and bit 63 (XD) while EFER.NXE=0"}`;
}

/** A 64-bit value from halves, as 0x + 16 hex digits. */
export function hex64(high: number, low: number): string {
  return (
    "0x" + (high >>> 0).toString(16).padStart(8, "0") + (low >>> 0).toString(16).padStart(8, "0")
  );
}
