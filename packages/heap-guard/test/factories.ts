import "reflect-metadata";
import { container } from "tsyringe";
import type { HeapFactory } from "@allockit/conformance";
import { TOKENS, loadPlugin, resolveToken } from "@allockit/core";
import type { Heap, PageSource } from "@allockit/core";
import type { GuardPageSourceOptions } from "../src/index.js";
import type { X86Vmm } from "@allockit/vmm";
import { GuardHeap, GuardPageSource } from "../src/index.js";
import { bootMachine } from "./machine.js";

/**
 * Heaps on the machine: one VMM booted on first use, and for every heap a fresh
 * GuardPageSource in its kernel space (with the suite's page limit), passed through the suite's
 * wrapper when it asks, and handed to `build`; disposing of the heap unmaps every region the
 * source mapped.
 */
export function guardMachineFactory(
  quarantinePages?: number,
  build: (source: PageSource, guard: GuardHeap) => Heap = (_, guard) => guard,
  sourceOptions: GuardPageSourceOptions = {},
): HeapFactory {
  let vmm: X86Vmm | undefined;
  return (env) => {
    vmm ??= bootMachine();
    const guardSource = new GuardPageSource(vmm.kernelSpace, vmm.memory, {
      ...sourceOptions,
      ...(env.pageLimit === undefined ? {} : { pageLimit: env.pageLimit }),
      ...(quarantinePages === undefined ? {} : { quarantinePages }),
    });
    const source = env.wrapPageSource?.(guardSource) ?? guardSource;
    try {
      const guard = new GuardHeap(source, {
        guardPages: true,
        ...(quarantinePages === undefined ? {} : { quarantinePages }),
      });
      return {
        heap: build(source, guard),
        pageSource: source,
        dispose: () => guardSource.destroy(),
      };
    } catch (error) {
      guardSource.destroy();
      throw error;
    }
  };
}

/**
 * A builder of slab heaps over a given page source, from the heap-slab plugin loaded by name
 * (as a config loads it) and registered in a child container, with its default options.
 */
export async function slabHeapBuilder(): Promise<(source: PageSource) => Heap> {
  const slab = (await loadPlugin("@allockit/heap-slab")).manifest;
  return (source) => {
    const child = container.createChildContainer();
    child.register(TOKENS.PageSource, { useValue: source });
    slab.register(child, slab.options.parse({}));
    return resolveToken(child, TOKENS.Heap);
  };
}
