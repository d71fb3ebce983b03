import { AllocatorError } from "@allockit/core";
import type { Memory } from "@allockit/core";
import type { PageOwnerTable } from "./page-owners.js";
import type { PageSupply } from "./page-supply.js";

/**
 * What every cache of one heap shares: the memory, the page supply, the page-ownership table,
 * the reap policy, and whether user code (an object constructor or destructor) is running.
 */
export class SlabContext {
  /** Greater than 0 while a constructor or destructor runs. */
  callbackDepth = 0;

  constructor(
    readonly memory: Memory,
    readonly supply: PageSupply,
    readonly table: PageOwnerTable,
    /** Empty slabs a cache keeps; more are released at once. */
    readonly keepEmptySlabs: number,
    /** Whether successive slabs move their first object through the colour offsets. */
    readonly colouring: boolean,
  ) {}

  /**
   * Throws EINVAL when called from a constructor or destructor: those run in the middle of
   * growing or reaping a cache, when the heap must not be re-entered.
   */
  refuseReentry(operation: string): void {
    if (this.callbackDepth > 0) {
      throw new AllocatorError(
        "EINVAL",
        `heap-slab: ${operation} called from an object constructor or destructor (depth ${this.callbackDepth}); they must not re-enter the heap`,
        this.callbackDepth,
      );
    }
  }
}
