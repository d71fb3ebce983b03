import { fileURLToPath } from "node:url";
import { Libc, compose, type AllockitConfig, type ComposedSystem } from "@allockit/core";

/** The repository root: plugins resolve from there, as they do for the CLI run from it. */
export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

export interface MachineConfig {
  pmm?: string;
  mode?: string;
  access?: string;
  ramMiB?: number;
  preset?: string;
  cpus?: number;
  heap?: string;
}

/** Boots an x86 system with a PMM, the VMM and a heap. */
export async function bootMachine(options: MachineConfig = {}): Promise<ComposedSystem> {
  const config: AllockitConfig = {
    machine: {
      plugin: "@allockit/x86-machine",
      options:
        options.preset === undefined
          ? { ramMiB: options.ramMiB ?? 64, cpus: options.cpus ?? 1 }
          : { preset: options.preset, cpus: options.cpus ?? 1 },
    },
    pmm: { plugin: `@allockit/pmm-${options.pmm ?? "buddy"}`, options: {} },
    vmm: {
      plugin: "@allockit/vmm",
      options: { mode: options.mode ?? "long", access: options.access ?? "direct-map" },
    },
    heap: { plugin: options.heap ?? "@allockit/heap-slab", options: {} },
  };
  return compose(config, { resolveFrom: [repoRoot] });
}

/** A flat-memory system: no machine, no PMM, no VMM. */
export async function bootFlat(): Promise<ComposedSystem> {
  return compose(
    {
      machine: { plugin: "@allockit/core/flat", options: { sizeMiB: 16 } },
      heap: { plugin: "@allockit/core/list-heap", options: {} },
    },
    { resolveFrom: [repoRoot] },
  );
}

/** A small deterministic workload: allocations of mixed sizes, some freed; returns live pointers. */
export function churn(system: ComposedSystem, operations: number, seed = 1): number[] {
  const libc = new Libc(system.heap);
  let state = seed >>> 0;
  const random = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const live: number[] = [];
  for (let i = 0; i < operations; i++) {
    if (live.length > 0 && random() < 0.4) {
      const index = Math.floor(random() * live.length);
      libc.free(live[index]!);
      live[index] = live[live.length - 1]!;
      live.pop();
    } else {
      const size =
        random() < 0.05 ? 4096 + Math.floor(random() * 60_000) : 16 + Math.floor(random() * 500);
      const ptr = libc.malloc(size);
      if (ptr !== 0) {
        system.memory.write8(ptr, 1);
        live.push(ptr);
      }
    }
  }
  return live;
}
