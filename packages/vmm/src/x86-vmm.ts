import {
  AccessFault,
  AllocatorError,
  MiB,
  PAGE_SIZE,
  alignDown,
  alignUp,
  describeValue,
  formatCanonical,
  formatSize,
  hex,
  mergeRanges,
  type AddressSpace,
  type BootStage,
  type FaultReport,
  type FrameConstraints,
  type PageSource,
  type PageTableAccess,
  type PhysicalMemoryManager,
  type VirtualMemoryManager,
  type VmmBootContext,
  type VmmStats,
} from "@allockit/core";
import {
  CR0_WP,
  CR4_PGE,
  CR4_PSE,
  EFER_NXE,
  Machine,
  PTE_G,
  PTE_P,
  PTE_PS,
  PTE_RW,
  PTE_US,
  PTE_XD_HIGH,
  type Cpu,
  type PageFaultInfo,
} from "@allockit/x86-machine";
import { X86AddressSpace, type RegionRecord } from "./address-space.js";
import type { HeapPageSource } from "./heap-page-source.js";
import { indexAt, layoutFor, spanAt, type Layout, type VmmMode } from "./layout.js";
import { PageTables, entryFrame } from "./page-tables.js";
import {
  DirectMapAccess,
  FrameWindow,
  PhysicalAccess,
  RecursiveAccess,
  WindowAccess,
  type TableAccess,
} from "./table-access.js";

const TWO_POW_32 = 4294967296;

/** How each strategy is named in reports. */
export const ACCESS_NAMES: Readonly<Record<PageTableAccess, string>> = {
  "direct-map": "direct map of RAM",
  recursive: "recursive slot",
  window: "temporary mapping window",
};

export interface X86VmmOptions {
  mode: VmmMode;
  access: PageTableAccess;
  /** Initial size of the kernel heap region (it grows brk-style); default 1 MiB. */
  kernelHeapBytes?: number;
  /**
   * Whether the kernel heap's pages are committed when handed out (default true), or left to
   * fault in on first touch (heap growth faults; out of memory then surfaces as a fault).
   */
  kernelHeapCommit?: boolean;
}

/** Why the VMM invalidates a translation. */
export type InvalidateReason = "unmap" | "protect" | "decommit" | "cow" | "remap";

/**
 * The x86 virtual memory manager: address spaces with region trees over real page tables in
 * simulated RAM, for 32-bit, PAE and 4-level paging; a page-fault handler for demand-zero,
 * copy-on-write of the zero page and heap growth; a kernel half shared by every space; and the
 * page-table access strategy the config picks (direct map, recursive slot, or window).
 *
 * It runs on the boot CPU at CPL 0 (saving and restoring the CPL around its work); a TLB entry
 * it changes is invalidated on every CPU that may hold it.
 */
export class X86Vmm implements VirtualMemoryManager {
  readonly name = "x86-vmm";
  readonly mode: VmmMode;
  readonly access: PageTableAccess;
  private readonly heapBytes: number;
  private readonly heapCommit: boolean;

  private machineValue: Machine | undefined;
  private layoutValue: Layout | undefined;
  private tablesValue: PageTables | undefined;
  private kernel: X86AddressSpace | undefined;
  private heapSource: PageSource | undefined;
  private pmmValue: PhysicalMemoryManager | undefined;
  private readonly byRoot = new Map<number, X86AddressSpace>();
  /** PAE: each space's four page directories, by root. */
  private readonly directories = new Map<number, number[]>();
  private nextId = 1;
  private window: FrameWindow | undefined;

  /** The shared zero page, mapped read-only for reads of untouched demand-zero pages. */
  zeroPage = 0;
  globalPages = true;
  noExecute = false;

  // Counters.
  private demandZero = 0;
  private cow = 0;
  private heapGrowth = 0;
  private bad = 0;
  private invlpgs = 0;
  private shootdowns = 0;
  private framesHeld = 0;

  // enter / leave nesting: CPL of the boot CPU to restore.
  private depth = 0;
  private savedCpl = 0;

  readonly handleFault = (info: PageFaultInfo): boolean => this.resolveFault(info);

  constructor(options: X86VmmOptions) {
    if (options.mode !== "32bit" && options.mode !== "pae" && options.mode !== "long") {
      throw new AllocatorError(
        "EINVAL",
        `paging mode ${describeValue(options.mode)} is not 32bit, pae or long`,
        options.mode,
      );
    }
    if (
      options.access !== "direct-map" &&
      options.access !== "recursive" &&
      options.access !== "window"
    ) {
      throw new AllocatorError(
        "EINVAL",
        `page-table access ${describeValue(options.access)} is not direct-map, recursive or window`,
        options.access,
      );
    }
    const heapBytes = options.kernelHeapBytes ?? MiB;
    if (!Number.isSafeInteger(heapBytes) || heapBytes <= 0 || heapBytes % PAGE_SIZE !== 0) {
      throw new AllocatorError(
        "EINVAL",
        `kernel heap size ${describeValue(heapBytes)} is not a positive multiple of ${PAGE_SIZE}`,
        heapBytes,
      );
    }
    this.mode = options.mode;
    this.access = options.access;
    this.heapBytes = heapBytes;
    this.heapCommit = options.kernelHeapCommit ?? true;
  }

  // ---------------------------------------------------------------- accessors

  private booted<T>(value: T | undefined): T {
    if (value === undefined) {
      throw new AllocatorError(
        "EINVAL",
        "the VMM has not booted yet (call boot() first)",
        undefined,
      );
    }
    return value;
  }

  get machine(): Machine {
    return this.booted(this.machineValue);
  }
  get layout(): Layout {
    return this.booted(this.layoutValue);
  }
  get tables(): PageTables {
    return this.booted(this.tablesValue);
  }
  get kernelSpace(): X86AddressSpace {
    return this.booted(this.kernel);
  }
  get kernelHeap(): PageSource {
    return this.booted(this.heapSource);
  }
  get memory(): Cpu {
    return this.machine.cpus[0]!;
  }
  get pmm(): PhysicalMemoryManager {
    return this.booted(this.pmmValue);
  }

  /** A linear address as the mode prints it. */
  format(va: number): string {
    return this.layoutValue?.mode === "long" ? formatCanonical(va) : hex(va);
  }

  // ---------------------------------------------------------------- boot

  boot(context: VmmBootContext): BootStage[] {
    if (this.machineValue !== undefined) {
      throw new AllocatorError("EINVAL", "the VMM has already booted", undefined);
    }
    const machine = context.machine;
    if (!(machine instanceof Machine)) {
      throw new AllocatorError(
        "ECONFIG",
        `the x86 VMM needs an x86 machine (the @allockit/x86-machine plugin), not ${describeValue(typeof machine)}`,
        machine,
      );
    }
    const cpu = machine.cpus[0]!;
    const layout = layoutFor(this.mode, cpu.maxPhysAddr, cpu.page1GB);
    const pmm = context.pmm;
    this.machineValue = machine;
    this.layoutValue = layout;
    this.pmmValue = pmm;
    this.noExecute = layout.mode !== "32bit";
    const ramEnd = machine.memory.ramEnd;
    const stages: BootStage[] = [];

    // ---- kernel page tables, built with paging off through physical addresses
    let started = performance.now();
    let freeBefore = pmm.stats().freeFrames;
    const tables = new PageTables(
      layout,
      pmm,
      new PhysicalAccess(machine.memory, layout.entryBytes),
      ramEnd,
    );
    this.tablesValue = tables;
    const root = this.makeRoot(true);
    if (root === 0)
      throw new AllocatorError(
        "ENOMEM",
        "out of memory for the kernel page directory",
        pmm.stats(),
      );
    const kernel = new X86AddressSpace(this, 0, true, root, layout.kernelBase, layout.linearLimit);
    this.kernel = kernel;
    this.byRoot.set(root, kernel);
    const details: string[] = [];
    const share = this.shareTable(root);
    const directMapBytes =
      this.access === "direct-map"
        ? Math.min(layout.directMapLimit, alignUp(ramEnd, layout.directMapPage))
        : 0;
    const shareStart = indexAt(layout, layout.shareLevel, layout.kernelBase);
    const shareSpan = spanAt(layout, layout.shareLevel);
    const shareEntries = layout.entries[layout.shareLevel]!;
    const directMapLeafAtShare = layout.shareLevel === layout.levels - 2 && directMapBytes > 0;
    let preallocated = 0;
    for (let i = shareStart; i < shareEntries; i++) {
      if (layout.recursiveSlots.includes(i) && this.access === "recursive") continue;
      const va =
        layout.shareLevel === 0 ? i * shareSpan : layout.kernelBase + (i - shareStart) * shareSpan;
      if (
        directMapLeafAtShare &&
        va >= layout.directMapBase &&
        va < layout.directMapBase + directMapBytes
      ) {
        continue;
      }
      const child = tables.allocTable(true);
      if (child === 0)
        throw new AllocatorError(
          "ENOMEM",
          "out of memory for the kernel's shared page tables",
          pmm.stats(),
        );
      tables.access.write(
        share,
        layout.shareLevel,
        va,
        i,
        ((child % TWO_POW_32) | PTE_P | PTE_RW) >>> 0,
        Math.floor(child / TWO_POW_32),
      );
      preallocated++;
    }
    details.push(
      `${this.mode} paging: top table at ${hex(root)}; ${preallocated} shared kernel tables at level ${layout.shareLevel + 1} preallocated (the kernel half from ${this.format(layout.kernelBase)})`,
    );

    // Direct map of RAM.
    if (directMapBytes > 0) {
      this.mapDirect(root, directMapBytes);
      kernel.mapSystem("direct map", layout.directMapBase, directMapBytes, "fixed", 0);
      details.push(
        `direct map: physical 0 .. ${hex(directMapBytes)} at ${this.format(layout.directMapBase)} in ${formatSize(layout.directMapPage)} pages${directMapBytes < ramEnd ? ` (RAM above is reached through the window)` : ""}`,
      );
    }

    // Kernel image and boot data (PMM metadata), at imageBase + physical.
    const bootRanges = mergeRanges([context.kernelImage, ...context.bootAllocations]);
    for (const range of bootRanges) {
      const from = alignDown(range.base, PAGE_SIZE);
      const to = alignUp(range.base + range.length, PAGE_SIZE);
      const name =
        range.base <= context.kernelImage.base &&
        context.kernelImage.base < range.base + range.length
          ? "kernel image and boot data"
          : "boot data";
      if (layout.imageBase === layout.directMapBase && to <= directMapBytes) {
        details.push(
          `${name}: ${hex(from)} .. ${hex(to)} reached through the direct map at ${this.format(layout.imageBase + from)}`,
        );
        continue;
      }
      if (to > layout.imageLimit) {
        throw new AllocatorError(
          "ENOMEM",
          `${name} at ${hex(from)} .. ${hex(to)} lies beyond what the image mapping reaches (${hex(layout.imageLimit)})`,
          range,
        );
      }
      const start = layout.imageBase + from;
      for (let va = start; va < layout.imageBase + to; va += PAGE_SIZE) {
        if (!tables.walk(root, va, true, false))
          throw new AllocatorError("ENOMEM", `out of memory mapping the ${name}`, va);
        const frame = va - layout.imageBase;
        tables.setEntry(
          va,
          ((frame % TWO_POW_32) | PTE_P | PTE_RW | PTE_G) >>> 0,
          Math.floor(frame / TWO_POW_32),
        );
      }
      kernel.mapSystem(name, start, to - from, "fixed", from);
      details.push(`${name}: ${hex(from)} .. ${hex(to)} mapped at ${this.format(start)}`);
    }

    // The window's page table maps itself in its first entry.
    if (!tables.walk(root, layout.windowBase, true, false))
      throw new AllocatorError("ENOMEM", "out of memory for the window", undefined);
    const windowTable = tables.table;
    tables.pin(windowTable);
    tables.setEntry(
      layout.windowBase,
      ((windowTable % TWO_POW_32) | PTE_P | PTE_RW) >>> 0,
      Math.floor(windowTable / TWO_POW_32),
    );
    // The region spans the window's whole page table: its entries change behind the present
    // counts, so no other mapping may share that table.
    kernel.mapSystem(
      "page-table window",
      layout.windowBase,
      spanAt(layout, layout.levels - 2),
      "fixed",
      windowTable,
    );
    details.push(
      `window: ${layout.windowPages - 1} slots at ${this.format(layout.windowBase + PAGE_SIZE)}, its page table (${hex(windowTable)}) mapped at ${this.format(layout.windowBase)}`,
    );

    if (this.access === "recursive") {
      this.setRecursive(root);
      kernel.mapSystem(
        "recursive page tables",
        layout.recursiveBase,
        layout.recursiveEnd - layout.recursiveBase,
        "fixed",
        root,
      );
      details.push(
        `recursive slot${layout.recursiveSlots.length > 1 ? "s" : ""} ${layout.recursiveSlots.join(", ")}: the tables appear at ${this.format(layout.recursiveBase)}`,
      );
    }

    this.zeroPage = tables.allocFrame();
    if (this.zeroPage === 0)
      throw new AllocatorError("ENOMEM", "out of memory for the zero page", undefined);
    tables.access.zero(this.zeroPage);
    details.push(`zero page at ${hex(this.zeroPage)}`);
    stages.push({
      name: "kernel page tables",
      details,
      frames: freeBefore - pmm.stats().freeFrames,
      ms: performance.now() - started,
    });

    // ---- paging on, on every CPU
    started = performance.now();
    for (const each of machine.cpus) {
      each.setCr4(each.cr4 | CR4_PGE | (this.mode === "32bit" ? CR4_PSE : 0));
      if (this.noExecute) each.setEfer(each.efer | EFER_NXE);
      each.enablePaging(this.mode, root);
      each.setCr0(each.cr0 | CR0_WP);
    }
    const window = new FrameWindow(cpu, layout);
    this.window = window;
    tables.access = this.makeAccess(cpu, layout, window, ramEnd);
    stages.push({
      name: "paging on",
      details: [
        `CR0.PG and CR0.WP set, CR4.PGE${this.mode === "32bit" ? ", CR4.PSE" : ", CR4.PAE"}${this.mode === "long" ? ", EFER.LME" : ""}${this.noExecute ? ", EFER.NXE" : ""} on ${machine.cpus.length} CPU${machine.cpus.length > 1 ? "s" : ""}; CR3 = ${hex(root)}`,
        `page tables now edited through the ${ACCESS_NAMES[this.access]}`,
      ],
      frames: 0,
      ms: performance.now() - started,
    });

    // ---- VMM: fault handler
    started = performance.now();
    freeBefore = pmm.stats().freeFrames;
    machine.setPageFaultHandler(this.handleFault);
    stages.push({
      name: "vmm",
      details: [
        `kernel space ${this.format(layout.kernelBase)} .. ${this.format(layout.linearLimit - 1)}; user spaces ${this.format(PAGE_SIZE)} .. ${this.format(layout.kernelBase - 1)}`,
        "page-fault handler installed: demand-zero, zero-page copy-on-write, heap growth",
      ],
      frames: freeBefore - pmm.stats().freeFrames,
      ms: performance.now() - started,
    });

    // ---- kernel heap region
    started = performance.now();
    const heapStart = kernel.map({
      kind: "heap",
      at: layout.heapBase,
      sizeBytes: this.heapBytes,
      name: "kernel heap",
    });
    if (heapStart === 0)
      throw new AllocatorError("ENOMEM", "no room for the kernel heap region", undefined);
    const source = kernel.pageSource(heapStart) as HeapPageSource;
    source.defaultCommit = this.heapCommit;
    this.heapSource = source;
    stages.push({
      name: "kernel heap",
      details: [
        `heap region at ${this.format(heapStart)}, ${formatSize(this.heapBytes)} reserved, ${this.heapCommit ? "pages committed as the heap takes them" : "demand-paged"}, grows up to ${this.format(layout.heapLimit)}`,
      ],
      frames: 0,
      ms: performance.now() - started,
    });
    return stages;
  }

  private makeAccess(cpu: Cpu, layout: Layout, window: FrameWindow, ramEnd: number): TableAccess {
    switch (this.access) {
      case "direct-map":
        return new DirectMapAccess(cpu, layout, window, ramEnd);
      case "recursive":
        return new RecursiveAccess(cpu, layout, window);
      case "window":
        return new WindowAccess(cpu, layout, window);
    }
  }

  /** The table whose kernel-half entries every space copies. */
  private shareTable(root: number): number {
    if (this.layout.shareLevel === 0) return root;
    return this.directories.get(root)![3]!;
  }

  /** A top-level table (PAE: a PDPT and its four directories), pinned. */
  private makeRoot(kernel: boolean): number {
    const tables = this.tables;
    // A PAE PDPT must lie below 4 GiB: CR3 holds only 32 bits in PAE paging.
    const root = tables.allocTable(true, this.layout.mode === "pae");
    if (root === 0) return 0;
    if (this.layout.mode !== "pae") return root;
    const dirs: number[] = [];
    for (let i = 0; i < 4; i++) {
      const dir = tables.allocTable(true);
      if (dir === 0) {
        for (const d of dirs) tables.releaseTable(d);
        tables.releaseTable(root);
        return 0;
      }
      dirs.push(dir);
    }
    if (!kernel) tables.access.copy(dirs[3]!, this.shareTable(this.kernelSpace.root));
    for (let i = 0; i < 4; i++) {
      tables.access.frameWrite(
        root,
        i,
        ((dirs[i]! % TWO_POW_32) | PTE_P) >>> 0,
        Math.floor(dirs[i]! / TWO_POW_32),
      );
    }
    this.directories.set(root, dirs);
    return root;
  }

  /** Points the recursive slot(s) of a space's share-level table at its own tables. */
  private setRecursive(root: number): void {
    const layout = this.layout;
    const share = this.shareTable(root);
    const targets = layout.mode === "pae" ? this.directories.get(root)! : [root];
    layout.recursiveSlots.forEach((slot, i) => {
      const target = targets[i]!;
      this.tables.access.frameWrite(
        share,
        slot,
        ((target % TWO_POW_32) | PTE_P | PTE_RW) >>> 0,
        Math.floor(target / TWO_POW_32),
      );
    });
  }

  /** Maps physical [0, bytes) at the direct-map base in large pages. */
  private mapDirect(root: number, bytes: number): void {
    const layout = this.layout;
    const tables = this.tables;
    const page = layout.directMapPage;
    const leafLevel =
      layout.levels -
      1 -
      Math.round(Math.log2(page / PAGE_SIZE) / Math.log2(layout.entries[layout.levels - 1]!));
    for (let pa = 0; pa < bytes; pa += page) {
      const va = layout.directMapBase + pa;
      // Walk down to the table holding the large-page entry, creating tables on the way.
      let table = layout.shareLevel === 0 ? root : this.shareTable(root);
      for (let level = layout.shareLevel; level < leafLevel; level++) {
        const index = indexAt(layout, level, va);
        const low = tables.access.readLow(table, level, va, index);
        if ((low & PTE_P) !== 0) {
          table = entryFrame(low, tables.access.readHigh(table, level, va, index));
          continue;
        }
        const child = tables.allocTable(true);
        if (child === 0) throw new AllocatorError("ENOMEM", "out of memory for the direct map", pa);
        tables.access.write(
          table,
          level,
          va,
          index,
          ((child % TWO_POW_32) | PTE_P | PTE_RW) >>> 0,
          Math.floor(child / TWO_POW_32),
        );
        table = child;
      }
      const index = indexAt(layout, leafLevel, va);
      tables.access.write(
        table,
        leafLevel,
        va,
        index,
        ((pa % TWO_POW_32) | PTE_P | PTE_RW | PTE_PS | PTE_G) >>> 0,
        (Math.floor(pa / TWO_POW_32) | (this.noExecute ? PTE_XD_HIGH : 0)) >>> 0,
      );
    }
  }

  // ---------------------------------------------------------------- spaces

  createSpace(): X86AddressSpace {
    const kernel = this.kernelSpace;
    const layout = this.layout;
    const tables = this.tables;
    const token = this.enter(kernel);
    try {
      const root = this.makeRoot(false);
      if (root === 0)
        throw new AllocatorError(
          "ENOMEM",
          "out of memory for a new address space's top table",
          this.pmm.stats(),
        );
      if (layout.shareLevel === 0) tables.access.copy(root, kernel.root);
      if (this.access === "recursive") this.setRecursive(root);
      const space = new X86AddressSpace(
        this,
        this.nextId++,
        false,
        root,
        PAGE_SIZE,
        layout.kernelBase,
      );
      this.byRoot.set(root, space);
      return space;
    } finally {
      this.leave(token);
    }
  }

  current(cpu = 0): X86AddressSpace {
    const each = this.cpuAt(cpu);
    const space = this.byRoot.get(each.cr3);
    if (space === undefined) {
      throw new AllocatorError(
        "EFAULT",
        `CPU ${cpu} has CR3 ${hex(each.cr3)}, which is no address space of this VMM`,
        each.cr3,
      );
    }
    return space;
  }

  spaces(): X86AddressSpace[] {
    return [...this.byRoot.values()];
  }

  private cpuAt(index: number): Cpu {
    const cpu = Number.isInteger(index) ? this.machine.cpus[index] : undefined;
    if (cpu === undefined) {
      throw new AllocatorError(
        "EINVAL",
        `CPU ${describeValue(index)} does not exist (the machine has ${this.machine.cpus.length})`,
        index,
      );
    }
    return cpu;
  }

  /** Loads a space on a CPU. */
  activate(space: X86AddressSpace, cpu: number): void {
    const each = this.cpuAt(cpu);
    if (each.cr3 !== space.root) each.setCr3(space.root);
  }

  /** Frees a destroyed space's top tables; CPUs that had it loaded switch to the kernel space. */
  retire(space: X86AddressSpace): void {
    const kernelRoot = this.kernelSpace.root;
    for (const cpu of this.machine.cpus) if (cpu.cr3 === space.root) cpu.setCr3(kernelRoot);
    const token = this.enter(this.kernelSpace);
    try {
      const dirs = this.directories.get(space.root);
      if (dirs !== undefined) for (const dir of dirs) this.tables.releaseTable(dir);
      this.directories.delete(space.root);
      this.window?.forget(space.root);
      this.tables.releaseTable(space.root);
      this.tables.forgetRoot(space.root);
      this.byRoot.delete(space.root);
    } finally {
      this.leave(token);
    }
  }

  /**
   * Page-table frames a space holds: its top tables and what its walks created; for the kernel
   * space, every table no user space holds (the shared kernel tables among them).
   */
  tablesOf(space: X86AddressSpace): number {
    const tables = this.tables;
    if (!space.kernel) {
      return (this.directories.has(space.root) ? 5 : 1) + tables.createdFrom(space.root);
    }
    let users = 0;
    for (const other of this.byRoot.values()) if (!other.kernel) users += this.tablesOf(other);
    return tables.tablesHeld() - users;
  }

  // ---------------------------------------------------------------- frames and TLBs

  /**
   * Makes a space's tables reachable and runs the boot CPU at CPL 0; returns a token for
   * `leave`. Nests.
   */
  enter(space: X86AddressSpace): number {
    const cpu = this.memory;
    if (this.depth++ === 0) {
      this.savedCpl = cpu.cpl;
      if (this.savedCpl !== 0) cpu.setCpl(0);
    }
    return space.kernel ? -1 : this.tables.access.enter(space.root);
  }

  leave(token: number): void {
    this.tables.access.leave(token);
    if (--this.depth === 0 && this.savedCpl !== 0) this.memory.setCpl(this.savedCpl);
  }

  /** A zeroed frame for a page, or 0 when memory is out. */
  takeZeroedFrame(): number {
    const frame = this.tables.allocFrame();
    if (frame === 0) return 0;
    this.zeroFrame(frame);
    this.framesHeld++;
    return frame;
  }

  /**
   * `count` physically contiguous, zeroed frames satisfying `constraints` (and reachable in this
   * mode), or 0. The PMM must return contiguous runs; a constraint it does not declare raises
   * EUNSUPPORTED from the PMM itself. Each frame is later released on its own.
   */
  takeContiguousFrames(count: number, constraints: FrameConstraints): number {
    const pmm = this.pmm;
    if (!pmm.capabilities.contiguous && count > 1) {
      throw new AllocatorError(
        "EUNSUPPORTED",
        `${pmm.name} does not hand out physically contiguous runs (${count} frames asked for)`,
        count,
      );
    }
    const limit = this.layout.physLimit;
    const reachable =
      pmm.capabilities.constraints.has("below") && (constraints.below ?? Infinity) > limit
        ? { ...constraints, below: limit }
        : constraints;
    const pa = pmm.allocFrames(count, reachable);
    if (pa === 0) return 0;
    if (pa + count * PAGE_SIZE > limit) {
      pmm.freeFrames(pa, count);
      return 0;
    }
    for (let i = 0; i < count; i++) this.zeroFrame(pa + i * PAGE_SIZE);
    this.framesHeld += count;
    return pa;
  }

  releaseFrame(frame: number): void {
    this.tables.freeFrame(frame);
    this.framesHeld--;
  }

  /** Zeroes a frame before it is mapped into a space. */
  protected zeroFrame(pa: number): void {
    this.tables.access.zero(pa);
  }

  invalidatePage(space: X86AddressSpace, va: number, reason: InvalidateReason): void {
    this.invalidate(space, va, reason);
  }

  /**
   * Drops the translation of `va` from every CPU that may hold it: all CPUs for the kernel half
   * (its entries are global), otherwise those with the space loaded. On another CPU this is a
   * shootdown (an IPI on hardware).
   */
  protected invalidate(space: AddressSpace, va: number, _reason: InvalidateReason): void {
    const cpus = this.machine.cpus;
    for (let i = 0; i < cpus.length; i++) {
      const cpu = cpus[i]!;
      if (space.kernel || cpu.cr3 === space.root) {
        cpu.invlpg(va);
        this.invlpgs++;
        if (i !== 0) this.shootdowns++;
      }
    }
  }

  // ---------------------------------------------------------------- page faults

  private resolveFault(info: PageFaultInfo): boolean {
    const layout = this.layout;
    const cpu = this.machine.cpus[info.cpu]!;
    const va = info.address;
    const loaded = this.byRoot.get(cpu.cr3);
    const space = va >= layout.kernelBase ? this.kernelSpace : loaded;
    if (space === undefined)
      return this.fail(
        info,
        loaded,
        undefined,
        undefined,
        `CR3 ${hex(cpu.cr3)} is no address space of this VMM`,
      );
    const record = space.recordAt(va);
    const write = info.access === "write";
    const user = info.cpl === 3;
    if (record === undefined)
      return this.fail(info, loaded, space, undefined, "no region maps this address");
    if (record.kind === "guard")
      return this.fail(info, loaded, space, record, "the address is in a guard region");
    if (va < record.start)
      return this.fail(info, loaded, space, record, "the address is in the stack's guard page");
    if (user && !record.protection.user)
      return this.fail(info, loaded, space, record, "user-mode access to a supervisor region");
    if (write && !record.protection.write)
      return this.fail(info, loaded, space, record, "write to a read-only region");
    if (info.access === "fetch" && !record.protection.execute)
      return this.fail(info, loaded, space, record, "instruction fetch from a no-execute region");
    const token = this.enter(space);
    let outcome: string | undefined;
    try {
      const tables = this.tables;
      const page = Math.floor(va / PAGE_SIZE) * PAGE_SIZE;
      const found = tables.walk(space.root, page, false, false);
      if (found && X86AddressSpace.allows(tables.low, write, user)) {
        // Already resolved (another CPU, or a stale TLB entry with fewer rights).
        return true;
      }
      if (record.kind === "fixed" || record.system) {
        outcome = "the fixed region has no page here";
      } else {
        const wasPresent = found && (tables.low & PTE_P) !== 0;
        if (!space.populate(record, page, write)) {
          outcome = "out of memory";
        } else if (wasPresent) {
          this.cow++;
        } else if (record.kind === "heap") {
          this.heapGrowth++;
        } else {
          this.demandZero++;
        }
      }
    } finally {
      this.leave(token);
    }
    if (outcome !== undefined) return this.fail(info, loaded, space, record, outcome);
    return true;
  }

  private fail(
    info: PageFaultInfo,
    loaded: X86AddressSpace | undefined,
    space: X86AddressSpace | undefined,
    record: RegionRecord | undefined,
    reason: string,
  ): never {
    this.bad++;
    const report: FaultReport = {
      address: info.address,
      formatted: this.format(info.address),
      access: info.access,
      cpl: info.cpl,
      cpu: info.cpu,
      region:
        record === undefined || space === undefined ? undefined : space.regionAt(record.start),
      space: loaded?.id ?? -1,
      reason,
      errorCode: info.errorCode,
    };
    throw new AccessFault(report);
  }

  // ---------------------------------------------------------------- stats and check

  stats(): VmmStats {
    return {
      spaces: this.byRoot.size,
      demandZeroFaults: this.demandZero,
      copyOnWriteFaults: this.cow,
      heapGrowthFaults: this.heapGrowth,
      badFaults: this.bad,
      invlpgs: this.invlpgs,
      shootdowns: this.shootdowns,
      pageTablePages: this.tables.tablesHeld(),
      framesHeld: this.framesHeld,
    };
  }

  /**
   * For every space and region: the tree's invariants, every page's PTE against the region
   * (guards unmapped, fixed pages at their frames, demand pages private or the read-only zero
   * page, rights as the region says), the private-frame counts, and the present count of every
   * page table the walk met.
   */
  check(): void {
    const tables = this.tables;
    const layout = this.layout;
    let held = 0;
    const seen = new Map<number, number>();
    for (const space of this.byRoot.values()) {
      space.tree.check();
      let privateFrames = 0;
      let zeroMappings = 0;
      const token = this.enter(space);
      try {
        for (const node of space.tree) {
          const r = node.value;
          if (r.system) continue;
          for (let va = node.start; va < node.end; va += PAGE_SIZE) {
            const found = tables.walk(space.root, va, false, false);
            if (found) seen.set(tables.table, tables.level);
            const present = found && (tables.low & PTE_P) !== 0;
            const where = `space ${space.id}, region "${r.name}", page ${this.format(va)}`;
            if (r.kind === "guard" || va < r.start) {
              if (present) this.corrupt(`${where}: a guard page is mapped`, va);
              continue;
            }
            if (!present) {
              if (r.kind === "fixed") this.corrupt(`${where}: a fixed page is not mapped`, va);
              continue;
            }
            const frame = entryFrame(tables.low, tables.high);
            const flags = space.leafFlags(r.protection);
            if (r.kind === "fixed") {
              if (frame !== r.physical + (va - r.start))
                this.corrupt(
                  `${where}: maps ${hex(frame)}, not ${hex(r.physical + (va - r.start))}`,
                  va,
                );
            } else if (frame === this.zeroPage) {
              zeroMappings++;
              if ((tables.low & PTE_RW) !== 0)
                this.corrupt(`${where}: the zero page is mapped writable`, va);
            } else {
              privateFrames++;
              if ((tables.low & PTE_RW) !== (flags & PTE_RW))
                this.corrupt(`${where}: R/W does not match the region`, va);
            }
            if ((tables.low & PTE_US) !== (flags & PTE_US))
              this.corrupt(`${where}: U/S does not match the region`, va);
          }
        }
        if (privateFrames !== space.privateFrames || zeroMappings !== space.zeroPageMappings) {
          this.corrupt(
            `space ${space.id}: ${privateFrames} private frames and ${zeroMappings} zero-page mappings found, ${space.privateFrames} and ${space.zeroPageMappings} recorded`,
            space.id,
          );
        }
        for (const [table, level] of seen)
          if (level === layout.levels - 1) tables.checkTable(table, level);
        seen.clear();
      } finally {
        this.leave(token);
      }
      held += space.privateFrames;
    }
    if (held !== this.framesHeld) {
      this.corrupt(
        `the spaces hold ${held} private frames, the VMM counted ${this.framesHeld}`,
        held,
      );
    }
  }

  private corrupt(message: string, value: unknown): never {
    throw new AllocatorError("ECORRUPT", message, value);
  }
}
