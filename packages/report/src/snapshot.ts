import {
  PAGE_SIZE,
  type BootReport,
  type PhysRange,
  type PhysicalMemory,
  type PhysicalMemoryManager,
  type Protection,
  type RegionKind,
} from "@allockit/core";
import { PTE_P, PTE_PS } from "@allockit/x86-machine";
import { X86Vmm, entryFrame, type RegionRecord, type X86AddressSpace } from "@allockit/vmm";
import { RunBuilder, type FrameMap } from "./frame-map.js";
import { ownerId } from "./owners.js";
import type { ReportedSystem } from "./system.js";

/** One region of an address space as the report draws it. */
export interface RegionLayout {
  /** First usable address (packed linear address in long mode) and as the VMM prints it. */
  start: number;
  startText: string;
  sizeBytes: number;
  /** Bytes of guard below `start` that belong to the region (stacks). */
  guardBytes: number;
  kind: RegionKind;
  name: string;
  protection: Protection;
  /** Pages with a private frame behind them now (fixed and guard regions: 0). */
  committedPages: number;
  /** Pages mapping the shared zero page. */
  zeroPages: number;
  /** Set up at boot (image, direct map, window ...). */
  system: boolean;
}

/** One address space: its range and regions. */
export interface SpaceLayout {
  id: number;
  kernel: boolean;
  low: number;
  high: number;
  lowText: string;
  highText: string;
  regions: RegionLayout[];
  /** Page-table frames the walk found under this space's top table (shared ones counted once, with the first space). */
  pageTableFrames: number;
}

/** What `snapshotSystem` saw at the end of a run. */
export interface SystemSnapshot {
  /** Null for a system without a machine (flat memory). */
  frameMap: FrameMap | null;
  spaces: SpaceLayout[];
  /** Frames the walk attributed, by owner key (page tables, heap, user ...). */
  walked: { pageTables: number; heap: number; user: number; kernelPages: number; zeroPage: number };
  /** How long the snapshot took, in milliseconds. */
  ms: number;
}

const OWNER = {
  hole: ownerId("hole"),
  reserved: ownerId("reserved"),
  kernelImage: ownerId("kernel-image"),
  pmmMetadata: ownerId("pmm-metadata"),
  pageTables: ownerId("page-tables"),
  zeroPage: ownerId("zero-page"),
  heap: ownerId("heap"),
  kernelPages: ownerId("kernel-pages"),
  user: ownerId("user"),
  free: ownerId("free"),
  other: ownerId("other"),
} as const;

/**
 * The frame map and the address-space layouts of a booted system, read without changing it:
 * page tables are read straight from physical memory (not through the MMU, so no TLB counter
 * moves). Take it at the end of a run, before the workload releases its blocks.
 *
 * Each frame of the firmware map's range gets one owner: hole (no map entry), reserved (map
 * types other than usable, frame 0, boot modules), kernel image, PMM metadata (what the boot
 * allocator handed out), then for usable RAM what the page-table walk found (page tables, the
 * zero page, heap, user and other kernel pages), then free (the PMM's isFrameFree) or other.
 */
export function snapshotSystem(system: ReportedSystem): SystemSnapshot {
  const began = performance.now();
  const walk = new TableWalk();
  const vmm = system.vmm instanceof X86Vmm ? system.vmm : undefined;
  const spaces = vmm === undefined ? [] : walk.walkVmm(vmm);
  const boot = system.report;
  const physical = physicalMemoryOf(system.machine);
  const frameMap =
    boot === undefined || physical === undefined
      ? null
      : buildFrameMap(boot, system.pmm, walk.owners);
  return {
    frameMap,
    spaces,
    walked: walk.totals(),
    ms: performance.now() - began,
  };
}

function physicalMemoryOf(machine: unknown): PhysicalMemory | undefined {
  if (typeof machine !== "object" || machine === null) return undefined;
  const memory = (machine as { memory?: unknown }).memory;
  return typeof memory === "object" && memory !== null && "read32" in memory
    ? (memory as PhysicalMemory)
    : undefined;
}

/** Walks every space's page tables from physical memory, attributing the frames it meets. */
class TableWalk {
  /** Owner id by frame number, for the frames the walk attributed. */
  readonly owners = new Map<number, number>();
  private readonly tables = new Set<number>();
  private vmm!: X86Vmm;
  private memory!: PhysicalMemory;
  private space!: X86AddressSpace;
  private kernelSpace!: X86AddressSpace;
  private counts = new Map<RegionRecord, { committed: number; zero: number }>();
  // The region the last leaf fell in: consecutive pages usually share it.
  private lastRecord: RegionRecord | undefined;
  private lastSpace: X86AddressSpace | undefined;

  walkVmm(vmm: X86Vmm): SpaceLayout[] {
    this.vmm = vmm;
    this.memory = vmm.machine.memory;
    this.kernelSpace = vmm.kernelSpace;
    if (vmm.zeroPage !== 0) this.owners.set(vmm.zeroPage / PAGE_SIZE, OWNER.zeroPage);
    // The kernel space first, so shared kernel tables count with it.
    const spaces = [vmm.kernelSpace, ...vmm.spaces().filter((s) => !s.kernel)];
    return spaces.map((space) => {
      const before = this.tables.size;
      this.space = space;
      this.lastRecord = undefined;
      this.visitTable(space.root, 0, 0);
      return this.describeSpace(space, this.tables.size - before);
    });
  }

  totals(): SystemSnapshot["walked"] {
    const totals = { pageTables: this.tables.size, heap: 0, user: 0, kernelPages: 0, zeroPage: 0 };
    for (const owner of this.owners.values()) {
      if (owner === OWNER.heap) totals.heap++;
      else if (owner === OWNER.user) totals.user++;
      else if (owner === OWNER.kernelPages) totals.kernelPages++;
      else if (owner === OWNER.zeroPage) totals.zeroPage++;
    }
    return totals;
  }

  private visitTable(table: number, level: number, vaBase: number): void {
    if (this.tables.has(table)) return;
    this.tables.add(table);
    this.owners.set(table / PAGE_SIZE, OWNER.pageTables);
    const layout = this.vmm.layout;
    const memory = this.memory;
    const entryBytes = layout.entryBytes;
    const last = layout.levels - 1;
    const span = 2 ** layout.shifts[level]!;
    const entries = layout.entries[level]!;
    for (let index = 0; index < entries; index++) {
      const at = table + index * entryBytes;
      const low = memory.read32(at);
      if ((low & PTE_P) === 0) continue;
      const high = entryBytes === 8 ? memory.read32(at + 4) : 0;
      const va = vaBase + index * span;
      const large = (low & PTE_PS) !== 0 && (level > 0 || layout.mode === "32bit");
      if (level === last) this.visitPage(va, entryFrame(low, high));
      // Large pages map the direct map and boot ranges only: fixed, never attributed.
      else if (!large) this.visitTable(entryFrame(low, high), level + 1, va);
    }
  }

  private visitPage(va: number, frameAddress: number): void {
    const space = va >= this.vmm.layout.kernelBase ? this.kernelSpace : this.space;
    let record = this.lastRecord;
    if (
      record === undefined ||
      this.lastSpace !== space ||
      va < record.start - record.guard ||
      va >= record.end
    ) {
      record = space.recordAt(va);
      this.lastRecord = record;
      this.lastSpace = space;
    }
    if (record === undefined || record.system || record.kind === "fixed" || record.kind === "guard")
      return;
    let count = this.counts.get(record);
    if (count === undefined) {
      count = { committed: 0, zero: 0 };
      this.counts.set(record, count);
    }
    if (frameAddress === this.vmm.zeroPage) {
      count.zero++;
      return;
    }
    count.committed++;
    const owner = !space.kernel
      ? OWNER.user
      : record.kind === "heap"
        ? OWNER.heap
        : OWNER.kernelPages;
    this.owners.set(frameAddress / PAGE_SIZE, owner);
  }

  private describeSpace(space: X86AddressSpace, pageTableFrames: number): SpaceLayout {
    const vmm = this.vmm;
    const regions: RegionLayout[] = [];
    for (const node of space.tree) {
      const record = node.value;
      const count = this.counts.get(record);
      regions.push({
        start: record.start,
        startText: vmm.format(record.start),
        sizeBytes: record.end - record.start,
        guardBytes: record.guard,
        kind: record.kind,
        name: record.name,
        protection: { ...record.protection },
        committedPages: count?.committed ?? 0,
        zeroPages: count?.zero ?? 0,
        system: record.system,
      });
    }
    return {
      id: space.id,
      kernel: space.kernel,
      low: space.low,
      high: space.high,
      lowText: vmm.format(space.low),
      highText: vmm.format(space.high - 1),
      regions,
      pageTableFrames,
    };
  }
}

interface Span {
  from: number;
  to: number;
  owner: number;
}

/** Frames [from, to) of a byte range, rounded outwards. */
function frameSpan(range: PhysRange, owner: number): Span {
  return {
    from: Math.floor(range.base / PAGE_SIZE),
    to: Math.ceil((range.base + range.length) / PAGE_SIZE),
    owner,
  };
}

/**
 * Paints spans over a sorted list of disjoint spans: later paints win. Only a handful of
 * spans (map entries, kernel image, modules, boot allocations), so a simple split is enough.
 */
function paint(spans: Span[], over: Span): Span[] {
  const out: Span[] = [];
  for (const span of spans) {
    if (span.to <= over.from || span.from >= over.to) {
      out.push(span);
      continue;
    }
    if (span.from < over.from) out.push({ ...span, to: over.from });
    out.push({
      from: Math.max(span.from, over.from),
      to: Math.min(span.to, over.to),
      owner: over.owner,
    });
    if (span.to > over.to) out.push({ ...span, from: over.to });
  }
  return out;
}

/** -1 stands for usable RAM still to be looked at frame by frame. */
const USABLE = -1;

function buildFrameMap(
  boot: BootReport,
  pmm: PhysicalMemoryManager | undefined,
  walked: ReadonlyMap<number, number>,
): FrameMap {
  const map = [...boot.memoryMap].sort((a, b) => a.base - b.base);
  const firstFrame = map.length === 0 ? 0 : Math.floor(map[0]!.base / PAGE_SIZE);
  const endFrame = map.reduce(
    (end, entry) => Math.max(end, Math.ceil((entry.base + entry.length) / PAGE_SIZE)),
    firstFrame,
  );
  // The map's entries, with the holes between them.
  let spans: Span[] = [];
  let at = firstFrame;
  for (const entry of map) {
    const span = frameSpan(entry, entry.type === "usable" ? USABLE : OWNER.reserved);
    if (span.from > at) spans.push({ from: at, to: span.from, owner: OWNER.hole });
    if (span.to > span.from) spans.push(span);
    at = Math.max(at, span.to);
  }
  const imageSpan = frameSpan(boot.kernelImage, OWNER.kernelImage);
  for (const range of boot.bootAllocator.reserved()) {
    const span = frameSpan(range, OWNER.reserved);
    // Frame 0 and modules are reserved; the kernel image gets its own colour below.
    if (span.from !== imageSpan.from || span.to !== imageSpan.to) spans = paintUsable(spans, span);
  }
  spans = paintUsable(spans, imageSpan);
  for (const range of boot.bootAllocator.allocated()) {
    spans = paintUsable(spans, frameSpan(range, OWNER.pmmMetadata));
  }

  const attributed = [...walked.keys()].sort((a, b) => a - b);
  const isFree = pmm?.isFrameFree?.bind(pmm);
  const builder = new RunBuilder();
  let next = 0;
  for (const span of spans) {
    if (span.owner !== USABLE) {
      builder.add(span.from, span.to - span.from, span.owner);
      continue;
    }
    while (next < attributed.length && attributed[next]! < span.from) next++;
    for (let frame = span.from; frame < span.to; frame++) {
      let owner: number;
      if (next < attributed.length && attributed[next] === frame) {
        owner = walked.get(frame)!;
        next++;
      } else {
        owner = isFree !== undefined && isFree(frame * PAGE_SIZE) ? OWNER.free : OWNER.other;
      }
      builder.add(frame, 1, owner);
    }
  }
  return {
    pageSize: PAGE_SIZE,
    firstFrame,
    endFrame,
    runs: builder.runs,
    counts: builder.counts,
    exactFree: isFree !== undefined,
  };
}

/** Paints a span over the usable parts only: reserved map entries and holes stay as they are. */
function paintUsable(spans: Span[], over: Span): Span[] {
  const out: Span[] = [];
  for (const span of spans) {
    if (span.owner === USABLE) out.push(...paint([span], over));
    else out.push(span);
  }
  return out;
}
