import type { Memory } from "@allockit/core";
import { LIST_FULL, LIST_PARTIAL, S_LIST, S_NEXT, S_PREV } from "./layout.js";
import { read64, write64 } from "./ram.js";

/**
 * A cache's three slab lists, partial, full and empty: doubly linked through the next / prev
 * fields of the slab headers in simulated RAM, each header also naming the list it is on.
 * JavaScript keeps the three heads and lengths.
 */
export class SlabLists {
  partialHead = 0;
  fullHead = 0;
  emptyHead = 0;
  partial = 0;
  full = 0;
  empty = 0;

  constructor(private readonly memory: Memory) {}

  head(list: number): number {
    return list === LIST_PARTIAL
      ? this.partialHead
      : list === LIST_FULL
        ? this.fullHead
        : this.emptyHead;
  }

  length(list: number): number {
    return list === LIST_PARTIAL ? this.partial : list === LIST_FULL ? this.full : this.empty;
  }

  /** Pushes `slab` at the head of `list`. */
  link(slab: number, list: number): void {
    const memory = this.memory;
    const head = this.head(list);
    write64(memory, slab + S_NEXT, head);
    write64(memory, slab + S_PREV, 0);
    if (head !== 0) write64(memory, head + S_PREV, slab);
    memory.write32(slab + S_LIST, list);
    this.setHead(list, slab);
    this.count(list, 1);
  }

  /** Takes `slab` off the list its header names. */
  unlink(slab: number): void {
    const memory = this.memory;
    const list = memory.read32(slab + S_LIST);
    const next = read64(memory, slab + S_NEXT);
    const prev = read64(memory, slab + S_PREV);
    if (prev === 0) this.setHead(list, next);
    else write64(memory, prev + S_NEXT, next);
    if (next !== 0) write64(memory, next + S_PREV, prev);
    this.count(list, -1);
  }

  move(slab: number, list: number): void {
    this.unlink(slab);
    this.link(slab, list);
  }

  private setHead(list: number, slab: number): void {
    if (list === LIST_PARTIAL) this.partialHead = slab;
    else if (list === LIST_FULL) this.fullHead = slab;
    else this.emptyHead = slab;
  }

  private count(list: number, delta: number): void {
    if (list === LIST_PARTIAL) this.partial += delta;
    else if (list === LIST_FULL) this.full += delta;
    else this.empty += delta;
  }
}
