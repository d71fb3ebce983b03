import {
  BumpBootAllocator,
  KiB,
  MiB,
  PAGE_SIZE,
  countFrames,
  hex,
  managedRanges,
  normalizeMemoryMap,
} from "@allockit/core";
import type {
  MemoryMapEntry,
  PhysRange,
  PhysicalMemoryManager,
  Zone,
  ZoneLimits,
} from "@allockit/core";
import { PhysicalRam } from "@allockit/x86-machine";
import { ConformanceViolation, describeThrown } from "../violation.js";
import type { PmmTestMap } from "./maps.js";
import {
  framesByZone,
  pageDown,
  pageUp,
  spanAt,
  spanFrames,
  subtractSpans,
  unionSpans,
} from "./spans.js";
import type { Span } from "./spans.js";

/** Builds a fresh, un-initialised PMM; the suite calls it once per map and per sequence. */
export type PmmFactory = () => PhysicalMemoryManager;

/** Where the suite puts the kernel image and the boot module on a map. */
export interface BootLayout {
  readonly kernel: PhysRange | undefined;
  readonly module: PhysRange | undefined;
}

const KERNEL_BASE = MiB;
const KERNEL_BYTES = 2 * MiB;
// Unaligned on purpose: reserved ranges are rounded outward to whole pages.
const MODULE_GAP = 64 * KiB + 0x340;
const MODULE_BYTES = 300 * KiB + 0x1a0;

/**
 * Kernel at 1 MiB, 2 MiB long, where usable RAM holds it (else at the start of the first
 * entry big enough, else over half of the largest); a module just after it, at an unaligned
 * address with an unaligned length, in the same entry or the first other one with room.
 */
export function bootLayout(normalized: readonly MemoryMapEntry[]): BootLayout {
  const usable = normalized.filter((e) => e.type === "usable");
  let kernel: PhysRange | undefined;
  if (
    usable.some((e) => e.base <= KERNEL_BASE && e.base + e.length >= KERNEL_BASE + KERNEL_BYTES)
  ) {
    kernel = { base: KERNEL_BASE, length: KERNEL_BYTES, name: "kernel" };
  } else {
    const roomy = usable.find((e) => e.base > 0 && e.length >= KERNEL_BYTES + 4 * PAGE_SIZE);
    if (roomy !== undefined) kernel = { base: roomy.base, length: KERNEL_BYTES, name: "kernel" };
    else {
      const largest = [...usable].sort((a, b) => b.length - a.length)[0];
      if (largest !== undefined && largest.length >= 4 * PAGE_SIZE) {
        kernel = { base: largest.base, length: pageDown(largest.length / 2), name: "kernel" };
      }
    }
  }
  let module: PhysRange | undefined;
  const kernelEnd = kernel === undefined ? 0 : kernel.base + kernel.length;
  const holder = usable.find((e) => e.base <= kernelEnd && kernelEnd < e.base + e.length);
  if (
    kernel !== undefined &&
    holder !== undefined &&
    kernelEnd + MODULE_GAP + MODULE_BYTES <= holder.base + holder.length
  ) {
    module = { base: kernelEnd + MODULE_GAP, length: MODULE_BYTES, name: "module 0" };
  } else {
    const other = usable.find(
      (e) => e !== holder && e.length >= MODULE_BYTES + 2 * PAGE_SIZE && e.base >= kernelEnd,
    );
    if (other !== undefined) {
      module = { base: other.base + 0x340, length: MODULE_BYTES, name: "module 0" };
    }
  }
  return { kernel, module };
}

function rangeSpan(range: PhysRange): Span {
  return { start: pageDown(range.base), end: pageUp(range.base + range.length) };
}

/** Runs `factory`, turning a throw or a non-PMM into a violation. */
export function createPmm(factory: PmmFactory): PhysicalMemoryManager {
  let pmm: PhysicalMemoryManager;
  try {
    pmm = factory();
  } catch (error) {
    throw new ConformanceViolation("factory", `the PMM factory threw: ${describeThrown(error)}`, {
      cause: error,
    });
  }
  if (typeof pmm !== "object" || pmm === null || typeof pmm.allocFrames !== "function") {
    throw new ConformanceViolation(
      "factory",
      "the PMM factory must return a PhysicalMemoryManager (an object with init, allocFrames, ...)",
    );
  }
  return pmm;
}

/**
 * A PMM initialised over one map, with everything the suite expects of it computed on the
 * side: the frames it must manage are the usable, page-aligned RAM of the normalised map minus
 * frame 0, the kernel, the module and what the boot allocator handed out (its metadata).
 */
export class PmmEnvironment {
  readonly pmm: PhysicalMemoryManager;
  readonly ram: PhysicalRam;
  readonly boot: BumpBootAllocator;
  readonly testMap: PmmTestMap;
  readonly normalized: readonly MemoryMapEntry[];
  readonly layout: BootLayout;
  /** Usable RAM of the normalised map, whole pages. */
  readonly usable: readonly Span[];
  /** What the boot allocator handed out before it was capped, rounded out to pages. */
  readonly bootAllocations: readonly Span[];
  /** Frames the PMM must manage, computed by the suite (sorted, disjoint, page-aligned). */
  readonly managed: readonly Span[];
  readonly totalFrames: number;
  readonly zoneFrames: Readonly<Record<Zone, number>>;
  /** True when init left the boot allocator uncapped and the suite capped it. */
  readonly bootCappedBySuite: boolean;
  /** End of the highest usable page, and of the highest map entry of any type. */
  readonly ramEnd: number;
  readonly mapEnd: number;

  private constructor(pmm: PhysicalMemoryManager, testMap: PmmTestMap, limits: ZoneLimits) {
    this.pmm = pmm;
    this.testMap = testMap;
    this.normalized = normalizeMemoryMap(testMap.map).map;
    this.layout = bootLayout(this.normalized);
    this.ram = new PhysicalRam(testMap.map, { strict: true });
    const reserved = [this.layout.kernel, this.layout.module].filter(
      (r): r is PhysRange => r !== undefined,
    );
    this.boot = new BumpBootAllocator(testMap.map, { reserved });
    try {
      pmm.init(testMap.map, this.boot, this.ram);
    } catch (error) {
      throw new ConformanceViolation(
        "init",
        `${pmmName(pmm)}.init() on map "${testMap.name}" threw ${describeThrown(error)}`,
        { cause: error },
      );
    }
    this.bootCappedBySuite = !this.boot.capped;
    if (this.bootCappedBySuite) this.boot.cap();
    this.bootAllocations = unionSpans(this.boot.allocated().map(rangeSpan));

    // Page-aligned inward, although normalisation already does it: the suite does not rely on it.
    this.usable = unionSpans(
      this.normalized
        .filter((e) => e.type === "usable")
        .map((e) => ({ start: pageUp(e.base), end: pageDown(e.base + e.length) })),
    );
    const holes: Span[] = [{ start: 0, end: PAGE_SIZE }, ...reserved.map(rangeSpan)];
    holes.push(...this.bootAllocations);
    this.managed = subtractSpans(this.usable, holes);
    this.totalFrames = spanFrames(this.managed);
    this.zoneFrames = framesByZone(this.managed, limits);
    this.ramEnd = this.usable.length === 0 ? 0 : this.usable[this.usable.length - 1]!.end;
    this.mapEnd = this.normalized.reduce((end, e) => Math.max(end, e.base + e.length), 0);
    this.crossCheckWithCore();
  }

  /** Creates the PMM with `factory` and initialises it over `testMap`. */
  static boot(factory: PmmFactory, testMap: PmmTestMap, limits: ZoneLimits): PmmEnvironment {
    return new PmmEnvironment(createPmm(factory), testMap, limits);
  }

  /**
   * The suite's frame count against core's managedRanges, which PMMs are told to use: if they
   * disagree, the report says so instead of blaming the PMM.
   */
  private crossCheckWithCore(): void {
    const core = managedRanges(this.testMap.map, this.boot);
    const coreFrames = countFrames(core);
    const same =
      core.length === this.managed.length &&
      core.every(
        (r, i) => r.base === this.managed[i]!.start && r.base + r.length === this.managed[i]!.end,
      );
    if (coreFrames !== this.totalFrames || !same) {
      throw new ConformanceViolation(
        "reference",
        `on map "${this.testMap.name}" the suite counts ${this.totalFrames} managed frames but core's managedRanges(map, boot) gives ${coreFrames}; suite: ${describeSpans(this.managed)}, core: ${describeSpans(core.map((r) => ({ start: r.base, end: r.base + r.length })))}`,
      );
    }
  }

  /** True when the frame at `addr` (page-aligned) is one the PMM manages. */
  isManaged(addr: number): boolean {
    return spanAt(this.managed, addr) !== undefined;
  }

  /** Why the frame holding `addr` is not managed RAM, in words for a report. */
  describeFrame(addr: number): string {
    const frame = pageDown(addr);
    if (frame === 0) return "frame 0 (always reserved, 0 means failure)";
    const { kernel, module } = this.layout;
    for (const range of [kernel, module]) {
      if (range === undefined) continue;
      const span = rangeSpan(range);
      if (frame >= span.start && frame < span.end) {
        return `inside the ${range.name} [${hex(range.base)}, ${hex(range.base + range.length)})`;
      }
    }
    const metadata = spanAt(this.bootAllocations, frame);
    if (metadata !== undefined) {
      return `inside boot-allocator memory (the PMM's own metadata) [${hex(metadata.start)}, ${hex(metadata.end)})`;
    }
    if (spanAt(this.usable, frame) !== undefined) return "managed RAM";
    for (const e of this.normalized) {
      if (frame < e.base + e.length && e.base < frame + PAGE_SIZE && e.type !== "usable") {
        return `in the ${e.type} map entry [${hex(e.base)}, ${hex(e.base + e.length)}), not usable RAM`;
      }
    }
    if (frame >= this.mapEnd) return `above the end of the memory map (${hex(this.mapEnd)})`;
    const partial = this.normalized.find(
      (e) => e.base < frame + PAGE_SIZE && frame < e.base + e.length,
    );
    if (partial !== undefined) return "in a page only partly covered by usable RAM";
    return "in a hole of the memory map";
  }
}

export function pmmName(pmm: PhysicalMemoryManager): string {
  return typeof pmm.name === "string" && pmm.name !== "" ? pmm.name : "pmm";
}

export function describeSpans(spans: readonly Span[]): string {
  const shown = spans.slice(0, 12).map((s) => `[${hex(s.start)}, ${hex(s.end)})`);
  if (spans.length > 12) shown.push(`... ${spans.length - 12} more`);
  return shown.join(" ");
}
