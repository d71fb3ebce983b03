import { MAX_RUN_BYTES, PAGE_SIZE } from "./layout.js";
import type { PageOwnerTable } from "./page-owners.js";
import type { PageSupply } from "./page-supply.js";

/**
 * Requests above the largest size class (or with an alignment no class guarantees) get whole
 * pages straight from the PageSource. A run's first page is recorded in the ownership table with
 * its length and the size asked for; nothing is written into the run itself.
 */
export class PageRuns {
  /** Live runs, their pages and the sizes asked for. */
  runs = 0;
  pages = 0;
  requestedBytes = 0;

  constructor(
    private readonly supply: PageSupply,
    private readonly table: PageOwnerTable,
  ) {}

  /** A run of whole pages for `size` bytes aligned to `align`; 0 when no pages can be had. */
  alloc(size: number, align: number): number {
    if (size > MAX_RUN_BYTES) return 0;
    const pages = size === 0 ? 1 : Math.ceil(size / PAGE_SIZE);
    if (!this.table.reserve(1)) return 0;
    const addr = this.supply.grab(pages, align);
    if (addr === 0) return 0;
    this.table.insertRun(addr / PAGE_SIZE, pages, size);
    this.runs++;
    this.pages += pages;
    this.requestedBytes += size;
    return addr;
  }

  /** Releases the run at `addr`, whose ownership entry is `entry`. */
  free(entry: number, addr: number): void {
    const pages = this.table.runPages(entry);
    this.requestedBytes -= this.table.runRequested(entry);
    this.table.remove(entry);
    this.supply.release(addr, pages);
    this.runs--;
    this.pages -= pages;
  }
}
