import {
  AllocatorError,
  HeapCounters,
  PAGE_SIZE,
  checkPointer,
  checkSize,
  describeValue,
  effectiveAlign,
  isAccessFault,
} from "@allockit/core";
import type { Heap, HeapStats, Memory, PageAllocOptions, PageSource } from "@allockit/core";
import { checkGuardHeap } from "./consistency.js";
import { findCorruption } from "./corruption.js";
import { dumpGuardHeap } from "./dump.js";
import { GuardMemory } from "./guard-memory.js";
import type { FaultExplainer } from "./guard-memory.js";
import {
  ALIGN_SHIFT,
  DEFAULT_ALIGN,
  DEFAULT_QUARANTINE_PAGES,
  FLAG_CANARY,
  FLAG_LEFT,
  FLAG_ZERO_REQUEST,
  MAX_ALIGN,
  MAX_OBJECT_BYTES,
  R_FLAGS,
  R_SIZE,
} from "./layout.js";
import { coveringLive, coveringQuarantined, readObject } from "./lookup.js";
import { armSlack, canaryFits, pagesOf, placeObject, runOf } from "./placement.js";
import { QuarantineRing } from "./quarantine.js";
import { RecordTable, writeRecord } from "./records.js";
import { checkTag, tagHash } from "./tags.js";
import { GuardViolation } from "./violation.js";
import type { GuardMode, GuardObjectInfo } from "./violation.js";

export interface GuardHeapOptions {
  /** Where objects sit in their pages unless guardAlloc says otherwise (default "right"). */
  mode?: GuardMode;
  /**
   * Pages of freed objects whose records are kept, oldest dropped first (default 256). Their
   * pointers are then recognised as double frees, and faults in their pages as use after free.
   * The ring holding the records (64 bytes each) is taken from the page source at creation.
   */
  quarantinePages?: number;
  /**
   * Whether the page source surrounds every run with unmapped guard pages and unmaps freed runs
   * (default: whether the source itself says so, as a {@link GuardPageSource} does). Only
   * reports and {@link injectBug} use it; a wrapper around a guard page source hides it.
   */
  guardPages?: boolean;
}

/** Per-allocation choices of {@link GuardHeap.guardAlloc}. */
export interface GuardAllocOptions {
  /** Right against the guard after the run (catches overflow) or left (catches underflow). */
  mode?: GuardMode;
  /** A name for the object in reports: up to 31 printable ASCII characters. */
  tag?: string;
}

const EMPTY_TAG_HASH = tagHash("");

/**
 * The guard-page debug heap: every object in its own run of pages, right-aligned against the
 * unmapped guard page after the run (or left, against the one before), the slack around it
 * filled with a signature and a canary word beside it, both checked on free; freed runs are
 * unmapped and quarantined by the page source, so touching them faults. Out-of-band records in
 * pages from the source describe every live and recently freed object, so faults, double and
 * invalid frees come back as {@link GuardViolation}s with KFENCE-style reports.
 *
 * Over a {@link GuardPageSource} it catches overflow, underflow and use after free as they
 * happen; over any other source it still works as a heap and still catches slack and canary
 * corruption, double and invalid frees.
 */
export class GuardHeap implements Heap, FaultExplainer {
  readonly name = "heap-guard";
  /** The source's memory, wrapped so faults in guard pages and freed runs become reports. */
  readonly memory: GuardMemory;
  readonly defaultAlign = DEFAULT_ALIGN;
  readonly maxAlign = MAX_ALIGN;
  readonly releasesMemory = true;
  readonly mode: GuardMode;
  readonly guardPages: boolean;
  readonly quarantinePages: number;
  private readonly source: PageSource;
  private readonly raw: Memory;
  private readonly table: RecordTable;
  private readonly ring: QuarantineRing;
  private readonly left: boolean;
  /** Bytes around each run that belong to it: its guard pages, when the source has them. */
  private readonly margin: number;
  private readonly alignedRequest: PageAllocOptions = { align: PAGE_SIZE };

  private sequence = 0;
  private freeSequence = 0;
  private readonly counters = new HeapCounters();
  private runPages = 0;
  private footprintBytes = 0;
  private peakFootprintBytes = 0;
  private violations = 0;
  // Every live object starts in [liveLow, liveHigh) (a bound, not exact: it only grows while
  // objects are live, and resets when none is). heap_size answers 0 outside it without reading
  // the record table: a sampling wrapper asks about every pointer, most of them not ours.
  private liveLow = Infinity;
  private liveHigh = -Infinity;

  constructor(source: PageSource, options: GuardHeapOptions = {}) {
    this.source = source;
    this.raw = source.memory;
    this.memory = new GuardMemory(source.memory, this);
    this.mode = checkMode(options.mode ?? "right", "GuardHeap");
    this.left = this.mode === "left";
    const quarantine = options.quarantinePages ?? DEFAULT_QUARANTINE_PAGES;
    checkSize(quarantine, "quarantinePages");
    this.quarantinePages = quarantine;
    this.guardPages =
      options.guardPages ?? (source as Partial<{ guardPages: boolean }>).guardPages === true;
    this.margin = this.guardPages ? PAGE_SIZE : 0;
    this.table = new RecordTable(source, this.raw);
    this.ring = new QuarantineRing(source, this.raw, quarantine);
    this.updateFootprint();
  }

  // ---------------------------------------------------------------- the common API

  heap_alloc(size: number, align?: number): number {
    return this.allocate(size, align, this.left, "", EMPTY_TAG_HASH);
  }

  /** heap_alloc with a per-object mode and tag. */
  guardAlloc(size: number, align = 0, options: GuardAllocOptions = {}): number {
    const left =
      options.mode === undefined ? this.left : checkMode(options.mode, "guardAlloc") === "left";
    const tag = options.tag ?? "";
    checkTag(tag, "guardAlloc");
    return this.allocate(size, align, left, tag, tag === "" ? EMPTY_TAG_HASH : tagHash(tag));
  }

  heap_size(ptr: number): number {
    if (!(ptr >= this.liveLow && ptr < this.liveHigh) || !Number.isSafeInteger(ptr)) return 0;
    const record = this.table.find(ptr);
    return record === 0 ? 0 : this.raw.read32(record + R_SIZE);
  }

  heap_free(ptr: number): void {
    if (ptr === 0) return;
    checkPointer(ptr);
    const record = this.table.find(ptr);
    if (record === 0) throw this.rejectFree(ptr);
    const raw = this.raw;
    const size = raw.read32(record + R_SIZE);
    const flags = raw.read32(record + R_FLAGS);
    const corrupted = findCorruption(raw, record, ptr, size, flags);
    if (corrupted !== undefined) {
      // Reported once: the signature is written again and the object stays live, so the heap
      // is as consistent as before the stray write.
      armSlack(raw, ptr, size, flags);
      this.violations++;
      throw corrupted;
    }

    const pages = pagesOf(size);
    this.ring.admit(record, pages, ++this.freeSequence);
    this.table.remove(record, ptr);
    this.source.freePages(runOf(ptr), pages);
    this.counters.released(size, (flags & FLAG_ZERO_REQUEST) === 0 ? size : 0);
    this.runPages -= pages;
    if (this.table.used === 0) {
      this.liveLow = Infinity;
      this.liveHigh = -Infinity;
    }
    this.table.releaseIfEmpty();
    this.updateFootprint();
  }

  stats(): HeapStats {
    return this.counters.stats(this.footprintBytes, this.peakFootprintBytes, {
      quarantinedObjects: this.ring.count,
      quarantinedPages: this.ring.heldPages,
      objectPages: this.runPages,
      tablePages: this.table.pages,
      ringPages: this.ring.pages,
      guardPages: this.guardPages ? 1 : 0,
      violations: this.violations,
    });
  }

  /**
   * Walks the record table, its hash chains and free slots, the quarantine ring and every live
   * object's slack and canary; throws ECORRUPT (a GuardViolation for slack and canary) on the
   * first inconsistency.
   */
  check(): void {
    checkGuardHeap(this.raw, this.table, this.ring, {
      liveBlocks: this.counters.liveBlocks,
      liveBytes: this.counters.liveBytes,
      requestedBytes: this.counters.requestedBytes,
      runPages: this.runPages,
      footprintBytes: this.footprintBytes,
    });
  }

  /** The records, live and quarantined, one line each (after a check()). */
  dump(): string {
    this.check();
    return dumpGuardHeap(this.raw, this.table, this.ring, {
      guardPages: this.guardPages,
      quarantinePages: this.quarantinePages,
      liveBytes: this.counters.liveBytes,
      footprintBytes: this.footprintBytes,
    });
  }

  /**
   * What the heap knows of the object at `ptr`: the live one there, else the newest freed one
   * still in the quarantine; undefined when neither.
   */
  objectAt(ptr: number): GuardObjectInfo | undefined {
    if (!Number.isSafeInteger(ptr) || ptr <= 0) return undefined;
    const live = this.table.find(ptr);
    if (live !== 0) return readObject(this.raw, live);
    const freed = this.ring.findPointer(ptr);
    return freed === 0 ? undefined : readObject(this.raw, freed);
  }

  /**
   * Whether `ptr` lies in a live or quarantined object's run or its guard pages: what a
   * wrapper asks before it sends a bad pointer here for the report.
   */
  claims(ptr: number): boolean {
    if (!Number.isSafeInteger(ptr) || ptr <= 0) return false;
    return (
      coveringLive(this.raw, this.table, ptr, this.margin) !== 0 ||
      coveringQuarantined(this.raw, this.ring, ptr, this.margin) !== 0
    );
  }

  // ---------------------------------------------------------------- faults

  /** Turns a fault in a guard page or a quarantined run into a GuardViolation. */
  explainFault(error: unknown): unknown {
    if (!isAccessFault(error)) return error;
    const address = error.report.address;
    const access = error.report.access === "write" ? "write" : "read";
    const raw = this.raw;
    // A fault is itself evidence of guard pages, whatever the source said.
    const live = coveringLive(raw, this.table, address, PAGE_SIZE);
    if (live !== 0) {
      const object = readObject(raw, live);
      if (address >= object.address && address < object.address + object.size) return error;
      this.violations++;
      return new GuardViolation(
        address < object.address ? "underflow" : "overflow",
        address,
        object,
        { access, cause: error },
      );
    }
    const freed = coveringQuarantined(raw, this.ring, address, PAGE_SIZE);
    if (freed === 0) return error;
    this.violations++;
    return new GuardViolation(
      access === "write" ? "use-after-free-write" : "use-after-free-read",
      address,
      readObject(raw, freed),
      { access, cause: error },
    );
  }

  // ---------------------------------------------------------------- internals

  private allocate(
    size: number,
    align: number | undefined,
    left: boolean,
    tag: string,
    hashOfTag: number,
  ): number {
    checkSize(size);
    const alignment = effectiveAlign(align, DEFAULT_ALIGN, MAX_ALIGN);
    const objectSize = size === 0 ? 1 : size;
    if (objectSize > MAX_OBJECT_BYTES) return this.fail();
    const table = this.table;
    if (!table.hasFreeSlot()) {
      const grown = table.grow();
      this.updateFootprint();
      if (!grown) return this.fail();
    }
    const pages = pagesOf(objectSize);
    let run: number;
    if (alignment > PAGE_SIZE) {
      this.alignedRequest.align = alignment;
      run = this.source.allocPages(pages, this.alignedRequest);
    } else {
      run = this.source.allocPages(pages);
    }
    if (run === 0) {
      table.releaseIfEmpty();
      this.updateFootprint();
      return this.fail();
    }
    const ptr = placeObject(run, pages, objectSize, alignment, left);
    let flags = ((31 - Math.clz32(alignment)) << ALIGN_SHIFT) | (left ? FLAG_LEFT : 0);
    if (size === 0) flags |= FLAG_ZERO_REQUEST;
    if (canaryFits(ptr, objectSize, left)) flags |= FLAG_CANARY;
    const index = table.claim();
    const record = table.recordAt(index);
    writeRecord(this.raw, record, objectSize, ptr, ++this.sequence, flags, tag, hashOfTag);
    table.link(record, index, ptr);
    armSlack(this.raw, ptr, objectSize, flags);
    if (ptr < this.liveLow) this.liveLow = ptr;
    if (ptr >= this.liveHigh) this.liveHigh = ptr + 1;

    this.counters.allocated(objectSize, size);
    this.runPages += pages;
    this.updateFootprint();
    return ptr;
  }

  private fail(): number {
    this.counters.failed();
    return 0;
  }

  private updateFootprint(): void {
    this.footprintBytes = (this.table.pages + this.ring.pages + this.runPages) * PAGE_SIZE;
    if (this.footprintBytes > this.peakFootprintBytes)
      this.peakFootprintBytes = this.footprintBytes;
  }

  /** The violation for heap_free of a pointer that is no live object's start. */
  private rejectFree(ptr: number): AllocatorError {
    const raw = this.raw;
    this.violations++;
    const freed = this.ring.findPointer(ptr);
    if (freed !== 0) return new GuardViolation("double-free", ptr, readObject(raw, freed));
    const live = coveringLive(raw, this.table, ptr, this.margin);
    if (live !== 0) return new GuardViolation("invalid-free", ptr, readObject(raw, live));
    const near = coveringQuarantined(raw, this.ring, ptr, this.margin);
    return new GuardViolation("invalid-free", ptr, near === 0 ? undefined : readObject(raw, near));
  }
}

function checkMode(mode: unknown, call: string): GuardMode {
  if (mode !== "right" && mode !== "left") {
    throw new AllocatorError(
      "EINVAL",
      `${call}: mode ${describeValue(mode)} is not "right" or "left"`,
      mode,
    );
  }
  return mode;
}
