import {
  AllocatorError,
  KiB,
  MiB,
  PAGE_SIZE,
  hex,
  type AddressSpace,
  type Heap,
  type PageSource,
  type VirtualMemoryManager,
} from "@allockit/core";
import { SeededRandom } from "./random.js";
import { Workload, type WorkloadCounters, type WorkloadOptions } from "./workload.js";

/**
 * The kernel-like workload of `allockit run`: the heap workload (object-sized allocations,
 * buffers, reallocs; see Workload) with, every `eventEvery` heap operations, what a kernel does
 * beside its heap:
 *
 * - page-sized buffers: heap_alloc of 1-4 pages aligned to a page, kept a while;
 * - DMA buffers: 1-4 physically contiguous pages below 16 MiB straight from the page source
 *   (`physical: { below: 16 MiB }`), checked through its translation; skipped, and said so,
 *   when the page source cannot honour physical constraints;
 * - processes: a user address space created, given a stack and an anonymous region, loaded on
 *   CPU 0, a few of its pages written (demand-zero faults), then the kernel space loaded again,
 *   and the space destroyed a little later (needs a VMM).
 *
 * Deterministic for a seed, like the heap workload.
 */

/** The parts of a composed system the workload drives. */
export interface SystemUnderLoad {
  heap: Heap;
  pageSource: PageSource;
  vmm: VirtualMemoryManager | undefined;
}

/** What the events beside the heap workload did. */
export interface SystemEventCounters {
  /** Page-sized buffers allocated (1-4 pages, page-aligned) through the heap, and refused. */
  pageBuffers: number;
  pageBufferFailures: number;
  /** DMA buffers below 16 MiB from the page source; failures returned 0. */
  dmaBuffers: number;
  dmaFailures: number;
  /** False when the page source cannot hand out physically contiguous pages. */
  dmaSupported: boolean;
  /** User address spaces created and destroyed; user pages written (each a demand fault). */
  spacesCreated: number;
  spacesDestroyed: number;
  userPagesTouched: number;
}

export interface SystemWorkloadOptions extends WorkloadOptions {
  /** Heap operations between two rounds of events (default 1000). */
  eventEvery?: number;
}

const DMA_LIMIT = 16 * MiB;
const MAX_PAGE_BUFFERS = 16;
const MAX_DMA_BUFFERS = 8;
const MAX_SPACES = 2;
const USER_STACK_BYTES = 64 * KiB;
const USER_HEAP_BYTES = 256 * KiB;
const USER_RW = { write: true, user: true, execute: false } as const;

/** A run of pages held by the workload. */
interface HeldRun {
  addr: number;
  pages: number;
}

export class SystemWorkload {
  readonly events: SystemEventCounters;
  private readonly workload: Workload;
  private readonly random: SeededRandom;
  private readonly pageBuffers: HeldRun[] = [];
  private readonly dmaBuffers: HeldRun[] = [];
  private readonly spaces: AddressSpace[] = [];
  private rounds = 0;

  constructor(
    private readonly system: SystemUnderLoad,
    options: SystemWorkloadOptions,
  ) {
    const every = options.eventEvery ?? 1000;
    const progress = options.onProgress;
    this.random = new SeededRandom((options.seed ^ 0x5eed) >>> 0);
    this.events = {
      pageBuffers: 0,
      pageBufferFailures: 0,
      dmaBuffers: 0,
      dmaFailures: 0,
      dmaSupported: system.pageSource.physicalConstraints?.has("below") === true,
      spacesCreated: 0,
      spacesDestroyed: 0,
      userPagesTouched: 0,
    };
    this.workload = new Workload(system.heap, {
      ...options,
      progressEvery: every,
      onProgress: (done, total) => {
        if (done < total) this.round();
        progress?.(done, total);
      },
    });
  }

  /** Runs the heap workload with the events in between; returns the heap workload's counters. */
  run(): WorkloadCounters {
    return this.workload.run();
  }

  /** Frees every block, buffer and space the workload still holds; returns the heap blocks freed. */
  releaseAll(): number {
    for (const run of this.pageBuffers.splice(0)) this.system.heap.heap_free(run.addr);
    for (const run of this.dmaBuffers.splice(0))
      this.system.pageSource.freePages(run.addr, run.pages);
    while (this.spaces.length > 0) this.destroyOldestSpace();
    return this.workload.releaseAll();
  }

  /** One round of events between slices of heap operations. */
  private round(): void {
    this.rounds++;
    this.pageBuffer();
    if (this.events.dmaSupported) this.dmaBuffer();
    if (this.system.vmm !== undefined && this.rounds % 4 === 0) this.process(this.system.vmm);
  }

  private pageBuffer(): void {
    if (this.pageBuffers.length >= MAX_PAGE_BUFFERS) {
      const [oldest] = this.pageBuffers.splice(0, 1);
      this.system.heap.heap_free(oldest!.addr);
    }
    const pages = this.random.between(1, 4);
    const heap = this.system.heap;
    const addr = heap.heap_alloc(pages * PAGE_SIZE, PAGE_SIZE);
    if (addr === 0) {
      this.events.pageBufferFailures++;
      return;
    }
    heap.memory.write8(addr, 0xb0);
    heap.memory.write8(addr + pages * PAGE_SIZE - 1, 0xb1);
    this.pageBuffers.push({ addr, pages });
    this.events.pageBuffers++;
  }

  private dmaBuffer(): void {
    const source = this.system.pageSource;
    if (this.dmaBuffers.length >= MAX_DMA_BUFFERS) {
      const [oldest] = this.dmaBuffers.splice(0, 1);
      source.freePages(oldest!.addr, oldest!.pages);
    }
    const pages = this.random.between(1, 4);
    const addr = source.allocPages(pages, { physical: { below: DMA_LIMIT } });
    if (addr === 0) {
      this.events.dmaFailures++;
      return;
    }
    this.checkDma(addr, pages);
    this.dmaBuffers.push({ addr, pages });
    this.events.dmaBuffers++;
  }

  /** A DMA buffer must be physically contiguous and end below 16 MiB. */
  private checkDma(addr: number, pages: number): void {
    const translate = this.system.pageSource.translate?.bind(this.system.pageSource);
    if (translate === undefined) return;
    const first = translate(addr);
    for (let i = 0; i < pages; i++) {
      const pa = translate(addr + i * PAGE_SIZE);
      if (pa !== first + i * PAGE_SIZE || pa + PAGE_SIZE > DMA_LIMIT) {
        throw new AllocatorError(
          "ECORRUPT",
          `DMA buffer ${hex(addr)} (${pages} pages below 16 MiB): page ${i} is at physical ${hex(pa)}, not ${hex(first + i * PAGE_SIZE)} below ${hex(DMA_LIMIT)}`,
          addr,
        );
      }
    }
  }

  /** A process comes: a space with a stack and an anonymous region, some pages written. */
  private process(vmm: VirtualMemoryManager): void {
    if (this.spaces.length >= MAX_SPACES) this.destroyOldestSpace();
    const space = vmm.createSpace();
    this.spaces.push(space);
    this.events.spacesCreated++;
    const stack = space.map({
      kind: "stack",
      sizeBytes: USER_STACK_BYTES,
      topDown: true,
      protection: USER_RW,
      name: "user stack",
    });
    const data = space.map({
      kind: "anonymous",
      sizeBytes: USER_HEAP_BYTES,
      protection: USER_RW,
      name: "user data",
    });
    if (stack === 0 || data === 0) return;
    space.activate(0);
    try {
      const memory = vmm.memory;
      // Distinct pages (a step of 7 through 64 pages never repeats): each write is a fault.
      const pagesInData = USER_HEAP_BYTES / PAGE_SIZE;
      const touches = this.random.between(2, 8);
      const first = this.random.below(pagesInData);
      for (let i = 0; i < touches; i++) {
        const page = (first + i * 7) % pagesInData;
        memory.write32(data + page * PAGE_SIZE, 0x9a9e0000 + i);
      }
      memory.write32(stack + USER_STACK_BYTES - 8, 0x57ac);
      this.events.userPagesTouched += touches + 1;
    } finally {
      vmm.kernelSpace.activate(0);
    }
  }

  private destroyOldestSpace(): void {
    const [oldest] = this.spaces.splice(0, 1);
    oldest!.destroy();
    this.events.spacesDestroyed++;
  }
}
