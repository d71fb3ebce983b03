import {
  AllocatorError,
  PAGE_SIZE,
  describeValue,
  isPowerOfTwo,
  type AddressSpace,
  type AddressSpaceStats,
  type FrameConstraints,
  type MapRequest,
  type PageSource,
  type Protection,
  type Region,
  type RegionKind,
} from "@allockit/core";
import { PTE_G, PTE_P, PTE_RW, PTE_US, PTE_XD_HIGH } from "@allockit/x86-machine";
import { HeapPageSource } from "./heap-page-source.js";
import { spanAt } from "./layout.js";
import { entryFrame } from "./page-tables.js";
import { RegionTree, type RegionNode } from "./region-tree.js";
import type { X86Vmm } from "./x86-vmm.js";

const TWO_POW_32 = 4294967296;
const KINDS: ReadonlySet<string> = new Set(["anonymous", "fixed", "heap", "stack", "guard"]);

/** What the VMM keeps per region (the tree node's interval includes the guard). */
export interface RegionRecord {
  start: number;
  end: number;
  guard: number;
  kind: RegionKind;
  protection: Protection;
  name: string;
  /** For fixed regions: physical address of `start`; -1 otherwise. */
  physical: number;
  /** Set up at boot (image, direct map, window...): cannot be unmapped or changed. */
  system: boolean;
  /** The PageSource handed out over this heap region, if any. */
  source: HeapPageSource | undefined;
}

/** Default protection of a mapping: read/write, supervisor, no execute. */
export const KERNEL_RW: Protection = Object.freeze({ write: true, user: false, execute: false });

/**
 * One address space of the x86 VMM: its region tree (an augmented balanced tree, so a gap
 * search is O(log n)) and its top-level table. Kernel-half entries of the top table are copies
 * of the kernel space's, made once at creation; the tables they point at are shared.
 */
export class X86AddressSpace implements AddressSpace {
  readonly tree: RegionTree<RegionRecord>;
  destroyed = false;
  /** Private frames mapped and zero-page mappings, kept as pages come and go. */
  privateFrames = 0;
  zeroPageMappings = 0;

  constructor(
    readonly vmm: X86Vmm,
    readonly id: number,
    readonly kernel: boolean,
    readonly root: number,
    readonly low: number,
    readonly high: number,
  ) {
    this.tree = new RegionTree<RegionRecord>(low, high);
  }

  // ---------------------------------------------------------------- argument checks

  private checkLive(): void {
    if (this.destroyed) {
      throw new AllocatorError("EFAULT", `address space ${this.id} was destroyed`, this.id);
    }
  }

  /** Checks a page-aligned range inside the space; returns its end. */
  private checkRange(addr: number, sizeBytes: number, what: string): number {
    // Linear addresses are above 2^31 (doubles), where `%` is a library call: divide instead.
    if (!Number.isSafeInteger(addr) || Math.floor(addr / PAGE_SIZE) * PAGE_SIZE !== addr) {
      throw new AllocatorError(
        "EINVAL",
        `${what}: address ${describeValue(addr)} is not page-aligned`,
        addr,
      );
    }
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % PAGE_SIZE !== 0) {
      throw new AllocatorError(
        "EINVAL",
        `${what}: size ${describeValue(sizeBytes)} is not a positive multiple of ${PAGE_SIZE}`,
        sizeBytes,
      );
    }
    const end = addr + sizeBytes;
    if (addr < this.low || end > this.high) {
      throw new AllocatorError(
        "EINVAL",
        `${what}: ${this.vmm.format(addr)} .. ${this.vmm.format(end)} is outside space ${this.id} (${this.vmm.format(this.low)} .. ${this.vmm.format(this.high)})`,
        addr,
      );
    }
    return end;
  }

  private checkProtection(protection: unknown, what: string): Protection {
    const p = protection as Protection;
    if (
      typeof p !== "object" ||
      p === null ||
      typeof p.write !== "boolean" ||
      typeof p.user !== "boolean" ||
      typeof p.execute !== "boolean"
    ) {
      throw new AllocatorError(
        "EINVAL",
        `${what}: protection ${describeValue(protection)} is not { write, user, execute } booleans`,
        protection,
      );
    }
    if (this.kernel && p.user) {
      throw new AllocatorError(
        "EINVAL",
        `${what}: the kernel half cannot hold user pages (protection.user is true)`,
        protection,
      );
    }
    return { write: p.write, user: p.user, execute: p.execute };
  }

  // ---------------------------------------------------------------- map

  map(request: MapRequest): number {
    this.checkLive();
    const kind = request?.kind;
    if (!KINDS.has(kind)) {
      throw new AllocatorError(
        "EINVAL",
        `map: region kind ${describeValue(kind)} is not one of anonymous, fixed, heap, stack, guard`,
        kind,
      );
    }
    const size = request.sizeBytes;
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new AllocatorError(
        "EINVAL",
        `map: size ${describeValue(size)} is not a positive multiple of ${PAGE_SIZE}`,
        size,
      );
    }
    const protection = this.checkProtection(request.protection ?? KERNEL_RW, "map");
    const align = request.align ?? PAGE_SIZE;
    if (!Number.isSafeInteger(align) || !isPowerOfTwo(align) || align < PAGE_SIZE) {
      throw new AllocatorError(
        "EINVAL",
        `map: alignment ${describeValue(align)} is not a power of two >= ${PAGE_SIZE}`,
        align,
      );
    }
    let physical = -1;
    if (kind === "fixed") {
      const p = request.physical;
      if (
        p === undefined ||
        !Number.isSafeInteger(p) ||
        p < 0 ||
        p % PAGE_SIZE !== 0 ||
        p + size > this.vmm.layout.physLimit
      ) {
        throw new AllocatorError(
          "EINVAL",
          `map: fixed region needs a page-aligned physical address the mode can reach, not ${describeValue(p)}`,
          p,
        );
      }
      physical = p;
    } else if (request.physical !== undefined) {
      throw new AllocatorError(
        "EINVAL",
        `map: a physical address is only for fixed regions, not ${kind}`,
        request.physical,
      );
    }
    if (request.commit === true && (kind === "guard" || kind === "fixed")) {
      throw new AllocatorError(
        "EINVAL",
        `map: commit does not apply to a ${kind} region`,
        request.commit,
      );
    }
    const guard = kind === "stack" ? PAGE_SIZE : 0;
    let base: number;
    if (request.at !== undefined) {
      const at = request.at;
      this.checkRange(at, size, "map");
      if (at - guard < this.low) {
        throw new AllocatorError(
          "EINVAL",
          `map: the stack's guard page below ${this.vmm.format(at)} is outside space ${this.id}`,
          at,
        );
      }
      base = at - guard;
      const hit = this.tree.firstOverlap(base, at + size);
      if (hit !== undefined) {
        throw new AllocatorError(
          "EFAULT",
          `map: ${this.vmm.format(base)} .. ${this.vmm.format(at + size)} overlaps region "${hit.value.name}" (${this.vmm.format(hit.start)} .. ${this.vmm.format(hit.end)})`,
          at,
        );
      }
    } else {
      base = this.tree.findGap(
        size + guard,
        guard === 0 ? align : PAGE_SIZE,
        request.topDown === true,
      );
      if (base < 0) return 0;
    }
    const start = base + guard;
    const record: RegionRecord = {
      start,
      end: start + size,
      guard,
      kind,
      protection,
      name: request.name ?? `${kind} ${this.vmm.format(start)}`,
      physical,
      system: false,
      source: undefined,
    };
    this.tree.insert(base, start + size, record);
    if (kind === "fixed" || request.commit === true) {
      const token = this.vmm.enter(this);
      let ok: boolean;
      try {
        ok =
          kind === "fixed"
            ? this.mapFixed(record, start, start + size)
            : this.commitRange(record, start, start + size);
      } finally {
        this.vmm.leave(token);
      }
      if (!ok) {
        this.unmap(start, size);
        return 0;
      }
    }
    return start;
  }

  /** Maps a system region at boot (fixed frames, or a reservation); never unmapped. */
  mapSystem(
    name: string,
    start: number,
    sizeBytes: number,
    kind: RegionKind,
    physical: number,
  ): void {
    const record: RegionRecord = {
      start,
      end: start + sizeBytes,
      guard: 0,
      kind,
      protection: KERNEL_RW,
      name,
      physical,
      system: true,
      source: undefined,
    };
    this.tree.insert(start, start + sizeBytes, record);
  }

  private mapFixed(record: RegionRecord, from: number, to: number): boolean {
    const tables = this.vmm.tables;
    const flags = this.leafFlags(record.protection);
    const high = this.leafHigh(record.protection);
    for (let va = from; va < to; va += PAGE_SIZE) {
      if (!tables.walk(this.root, va, true, !this.kernel)) return false;
      const frame = record.physical + (va - record.start);
      tables.setEntry(
        va,
        ((frame % TWO_POW_32) | flags) >>> 0,
        (high | Math.floor(frame / TWO_POW_32)) >>> 0,
      );
    }
    return true;
  }

  // ---------------------------------------------------------------- unmap / protect

  unmap(addr: number, sizeBytes: number): void {
    this.checkLive();
    const end = this.checkRange(addr, sizeBytes, "unmap");
    const hits = this.tree.overlapping(addr, end);
    for (const node of hits) {
      if (node.value.system) {
        throw new AllocatorError(
          "EINVAL",
          `unmap: region "${node.value.name}" was set up at boot and cannot be unmapped`,
          addr,
        );
      }
    }
    if (hits.length === 0) return;
    const token = this.vmm.enter(this);
    try {
      for (const node of hits) {
        const record = node.value;
        const nodeStart = node.start;
        const from = Math.max(addr, record.start);
        const to = Math.min(end, record.end);
        // A guard region never has a present PTE (nothing commits, faults in or protects one),
        // so there is nothing to clear: skipping the walk keeps guard-page churn cheap.
        if (from < to && record.kind !== "guard") this.clearRange(record, from, to, "unmap");
        this.tree.remove(nodeStart);
        // What is left below and above the unmapped range stays, as regions of its own.
        const oldEnd = record.end;
        if (end < oldEnd) {
          const right: RegionRecord = {
            ...record,
            start: end,
            guard: 0,
            protection: { ...record.protection },
            physical: record.physical < 0 ? -1 : record.physical + (end - record.start),
            source: undefined,
          };
          this.tree.insert(end, oldEnd, right);
        }
        if (addr > nodeStart && addr > record.start) {
          // The lower part keeps the record (and a heap region its page source).
          record.end = addr;
          this.tree.insert(nodeStart, addr, record);
          if (record.source !== undefined) record.source.regionShrunk(addr);
        }
      }
    } finally {
      this.vmm.leave(token);
    }
  }

  /** Clears the PTEs of [from, to) in a region, returning private frames to the PMM. */
  private clearRange(
    record: RegionRecord,
    from: number,
    to: number,
    reason: "unmap" | "decommit",
  ): void {
    const vmm = this.vmm;
    const tables = vmm.tables;
    const ownsFrames = record.kind !== "fixed";
    const zeroPage = vmm.zeroPage;
    for (let va = from; va < to;) {
      if (!tables.walk(this.root, va, false, false)) {
        va = this.nextTableBoundary(va, tables.level);
        continue;
      }
      if ((tables.low & PTE_P) !== 0) {
        const frame = entryFrame(tables.low, tables.high);
        tables.setEntry(va, 0, 0);
        vmm.invalidatePage(this, va, reason);
        if (ownsFrames) {
          if (frame === zeroPage) this.zeroPageMappings--;
          else {
            this.privateFrames--;
            vmm.releaseFrame(frame);
          }
        }
        tables.pruneEmpty(va);
      }
      va += PAGE_SIZE;
    }
  }

  /** Next address whose walk reaches a different table than the missing one at `level`. */
  private nextTableBoundary(va: number, level: number): number {
    const span = spanAt(this.vmm.layout, level);
    return (Math.floor(va / span) + 1) * span;
  }

  protect(addr: number, sizeBytes: number, protection: Protection): void {
    this.checkLive();
    const end = this.checkRange(addr, sizeBytes, "protect");
    const p = this.checkProtection(protection, "protect");
    this.requireCovered(addr, end, "protect", false);
    const token = this.vmm.enter(this);
    try {
      this.splitAt(addr);
      this.splitAt(end);
      for (const node of this.tree.overlapping(addr, end)) {
        const record = node.value;
        record.protection = p;
        this.rewriteFlags(record, Math.max(addr, record.start), Math.min(end, record.end));
      }
    } finally {
      this.vmm.leave(token);
    }
  }

  /** Gives every present PTE of [from, to) the region's current rights. */
  private rewriteFlags(record: RegionRecord, from: number, to: number): void {
    const vmm = this.vmm;
    const tables = vmm.tables;
    const flags = this.leafFlags(record.protection);
    const high = this.leafHigh(record.protection);
    for (let va = from; va < to;) {
      if (!tables.walk(this.root, va, false, false)) {
        va = this.nextTableBoundary(va, tables.level);
        continue;
      }
      if ((tables.low & PTE_P) !== 0) {
        const frame = entryFrame(tables.low, tables.high);
        let low = flags;
        if (frame === vmm.zeroPage && record.kind !== "fixed") low &= ~PTE_RW;
        tables.setEntry(
          va,
          ((frame % TWO_POW_32) | low) >>> 0,
          (high | Math.floor(frame / TWO_POW_32)) >>> 0,
        );
        vmm.invalidatePage(this, va, "protect");
      }
      va += PAGE_SIZE;
    }
  }

  /**
   * Throws unless regions cover [from, to) without gaps (guard pages do not count). With
   * `demand`, each must be a demand-paged kind (commit / decommit).
   */
  private requireCovered(from: number, to: number, what: string, demand: boolean): void {
    let at = from;
    for (const node of this.tree.overlapping(from, to)) {
      const record = node.value;
      if (record.start > at) break;
      if (record.system) {
        throw new AllocatorError(
          "EINVAL",
          `${what}: region "${record.name}" was set up at boot and cannot be changed`,
          from,
        );
      }
      if (record.kind === "guard" || (demand && record.kind === "fixed")) {
        throw new AllocatorError(
          "EINVAL",
          `${what}: does not apply to ${record.kind} region "${record.name}"`,
          from,
        );
      }
      at = record.end;
      if (at >= to) return;
    }
    throw new AllocatorError(
      "EFAULT",
      `${what}: ${this.vmm.format(at)} is not inside a region (the range ${this.vmm.format(from)} .. ${this.vmm.format(to)} must be covered)`,
      at,
    );
  }

  /** Makes `addr` a region boundary, splitting the region around it. */
  private splitAt(addr: number): void {
    const node = this.tree.find(addr);
    if (node === undefined || node.start === addr) return;
    const record = node.value;
    if (addr <= record.start) return;
    this.tree.resize(node.start, addr);
    const right: RegionRecord = {
      ...record,
      start: addr,
      guard: 0,
      protection: { ...record.protection },
      physical: record.physical < 0 ? -1 : record.physical + (addr - record.start),
      source: undefined,
    };
    record.end = addr;
    if (record.source !== undefined) record.source.regionShrunk(addr);
    this.tree.insert(addr, right.end, right);
  }

  // ---------------------------------------------------------------- commit / decommit

  commit(addr: number, sizeBytes: number): boolean {
    this.checkLive();
    const end = this.checkRange(addr, sizeBytes, "commit");
    this.requireCovered(addr, end, "commit", true);
    const token = this.vmm.enter(this);
    try {
      for (const node of this.tree.overlapping(addr, end)) {
        const record = node.value;
        if (!this.commitRange(record, Math.max(addr, record.start), Math.min(end, record.end)))
          return false;
      }
      return true;
    } finally {
      this.vmm.leave(token);
    }
  }

  /** Gives every page of [from, to) a private zeroed frame. False when memory ran out. */
  commitRange(record: RegionRecord, from: number, to: number): boolean {
    for (let va = from; va < to; va += PAGE_SIZE) {
      if (!this.populate(record, va, true)) return false;
    }
    return true;
  }

  /**
   * Gives the page at `va` a frame: a private zeroed one (`write`), or the shared zero page
   * read-only. Replaces a zero-page mapping when writing. Call inside enter/leave.
   */
  populate(record: RegionRecord, va: number, write: boolean): boolean {
    const vmm = this.vmm;
    const tables = vmm.tables;
    if (!tables.walk(this.root, va, true, !this.kernel)) return false;
    const present = (tables.low & PTE_P) !== 0;
    const wasZero = present && entryFrame(tables.low, tables.high) === vmm.zeroPage;
    if (present && !wasZero) return true;
    if (present && !write) return true;
    const flags = this.leafFlags(record.protection);
    const high = this.leafHigh(record.protection);
    if (!write) {
      const zero = vmm.zeroPage;
      tables.setEntry(
        va,
        ((zero % TWO_POW_32) | (flags & ~PTE_RW)) >>> 0,
        (high | Math.floor(zero / TWO_POW_32)) >>> 0,
      );
      this.zeroPageMappings++;
      return true;
    }
    const frame = vmm.takeZeroedFrame();
    if (frame === 0) {
      // Leave no empty table behind.
      if (!present) tables.pruneEmpty(va);
      return false;
    }
    tables.setEntry(
      va,
      ((frame % TWO_POW_32) | flags) >>> 0,
      (high | Math.floor(frame / TWO_POW_32)) >>> 0,
    );
    this.privateFrames++;
    if (wasZero) {
      this.zeroPageMappings--;
      vmm.invalidatePage(this, va, "cow");
    }
    return true;
  }

  /**
   * Backs [addr, addr + sizeBytes) of one demand-paged region with physically contiguous,
   * zeroed frames satisfying `constraints` (a DMA buffer), replacing whatever was mapped there.
   * False when the PMM has no such run or a page table could not be had; nothing stays mapped
   * then. The frames are private frames like any other: decommit and unmap return them.
   */
  commitContiguous(addr: number, sizeBytes: number, constraints: FrameConstraints): boolean {
    this.checkLive();
    const end = this.checkRange(addr, sizeBytes, "commitContiguous");
    this.requireCovered(addr, end, "commitContiguous", true);
    const node = this.tree.firstOverlap(addr, end);
    if (node === undefined || node.value.end < end) {
      throw new AllocatorError(
        "EINVAL",
        `commitContiguous: ${this.vmm.format(addr)} + ${sizeBytes} bytes spans more than one region`,
        addr,
      );
    }
    const record = node.value;
    const count = sizeBytes / PAGE_SIZE;
    const vmm = this.vmm;
    const token = vmm.enter(this);
    try {
      this.clearRange(record, addr, end, "decommit");
      const pa = vmm.takeContiguousFrames(count, constraints);
      if (pa === 0) return false;
      const tables = vmm.tables;
      const flags = this.leafFlags(record.protection);
      const high = this.leafHigh(record.protection);
      for (let i = 0; i < count; i++) {
        const va = addr + i * PAGE_SIZE;
        if (!tables.walk(this.root, va, true, !this.kernel)) {
          // Out of page-table frames: undo the pages mapped so far and give back the rest.
          this.clearRange(record, addr, va, "decommit");
          for (let j = i; j < count; j++) vmm.releaseFrame(pa + j * PAGE_SIZE);
          return false;
        }
        const frame = pa + i * PAGE_SIZE;
        tables.setEntry(
          va,
          ((frame % TWO_POW_32) | flags) >>> 0,
          (high | Math.floor(frame / TWO_POW_32)) >>> 0,
        );
        this.privateFrames++;
      }
      return true;
    } finally {
      vmm.leave(token);
    }
  }

  decommit(addr: number, sizeBytes: number): void {
    this.checkLive();
    const end = this.checkRange(addr, sizeBytes, "decommit");
    this.requireCovered(addr, end, "decommit", true);
    const token = this.vmm.enter(this);
    try {
      for (const node of this.tree.overlapping(addr, end)) {
        const record = node.value;
        this.clearRange(
          record,
          Math.max(addr, record.start),
          Math.min(end, record.end),
          "decommit",
        );
      }
    } finally {
      this.vmm.leave(token);
    }
  }

  // ---------------------------------------------------------------- queries

  translate(addr: number): number {
    this.checkLive();
    if (!Number.isSafeInteger(addr) || addr < 0 || addr >= this.vmm.layout.linearLimit) {
      throw new AllocatorError(
        "EINVAL",
        `translate: ${describeValue(addr)} is not a linear address`,
        addr,
      );
    }
    const vmm = this.vmm;
    const token = vmm.enter(this);
    try {
      const tables = vmm.tables;
      if (!tables.walk(this.root, addr, false, false) || (tables.low & PTE_P) === 0) return -1;
      const span = spanAt(vmm.layout, tables.level);
      const base = entryFrame(tables.low, tables.high);
      return base - (base % span) + (addr % span);
    } finally {
      vmm.leave(token);
    }
  }

  activate(cpu = 0): void {
    this.checkLive();
    this.vmm.activate(this, cpu);
  }

  regions(): Region[] {
    const out: Region[] = [];
    for (const node of this.tree) out.push(this.describe(node));
    return out;
  }

  regionAt(addr: number): Region | undefined {
    const node = this.tree.find(addr);
    return node === undefined ? undefined : this.describe(node);
  }

  /** The region record containing `addr` (guard included). */
  recordAt(addr: number): RegionRecord | undefined {
    return this.tree.find(addr)?.value;
  }

  private describe(node: RegionNode<RegionRecord>): Region {
    const r = node.value;
    const region: Region = {
      start: r.start,
      sizeBytes: r.end - r.start,
      kind: r.kind,
      protection: { ...r.protection },
      name: r.name,
      guardBytes: r.guard,
      committedPages: r.kind === "fixed" || r.kind === "guard" ? 0 : this.countPrivate(r),
    };
    if (r.physical >= 0) region.physical = r.physical;
    return region;
  }

  private countPrivate(record: RegionRecord): number {
    const vmm = this.vmm;
    const tables = vmm.tables;
    let count = 0;
    const token = vmm.enter(this);
    try {
      for (let va = record.start; va < record.end;) {
        if (!tables.walk(this.root, va, false, false)) {
          va = this.nextTableBoundary(va, tables.level);
          continue;
        }
        if ((tables.low & PTE_P) !== 0 && entryFrame(tables.low, tables.high) !== vmm.zeroPage)
          count++;
        va += PAGE_SIZE;
      }
    } finally {
      vmm.leave(token);
    }
    return count;
  }

  pageSource(regionStart: number): PageSource {
    this.checkLive();
    const node = this.tree.find(regionStart);
    if (node === undefined || node.value.start !== regionStart || node.value.kind !== "heap") {
      throw new AllocatorError(
        "EINVAL",
        `pageSource: no heap region starts at ${this.vmm.format(regionStart)} in space ${this.id}`,
        regionStart,
      );
    }
    const record = node.value;
    record.source ??= new HeapPageSource(this, record);
    return record.source;
  }

  stats(): AddressSpaceStats {
    let reserved = 0;
    for (const node of this.tree) reserved += node.end - node.start;
    return {
      regions: this.tree.size,
      reservedBytes: reserved,
      privateFrames: this.privateFrames,
      zeroPageMappings: this.zeroPageMappings,
      pageTablePages: this.vmm.tablesOf(this),
    };
  }

  destroy(): void {
    this.checkLive();
    if (this.kernel) {
      throw new AllocatorError("EINVAL", "the kernel address space cannot be destroyed", this.id);
    }
    for (const node of [...this.tree])
      this.unmap(node.value.start - node.value.guard, node.end - node.start);
    this.vmm.retire(this);
    this.destroyed = true;
  }

  // ---------------------------------------------------------------- entries

  leafFlags(protection: Protection): number {
    let flags = PTE_P;
    if (protection.write) flags |= PTE_RW;
    if (protection.user) flags |= PTE_US;
    if (this.kernel && this.vmm.globalPages) flags |= PTE_G;
    return flags;
  }

  leafHigh(protection: Protection): number {
    return !protection.execute && this.vmm.noExecute ? PTE_XD_HIGH : 0;
  }

  /** Whether a present leaf already gives the access (a fault that another CPU resolved). */
  static allows(low: number, write: boolean, user: boolean): boolean {
    if ((low & PTE_P) === 0) return false;
    if (write && (low & PTE_RW) === 0) return false;
    if (user && (low & PTE_US) === 0) return false;
    return true;
  }
}
