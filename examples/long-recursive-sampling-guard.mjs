// A config module: the same shape as a JSON config, with comments and code.
// `pnpm allockit run --config examples/long-recursive-sampling-guard.mjs`

const ramMiB = 256;

export default {
  // 4-level paging on a 256 MiB machine; the VMM reaches page tables through PML4 slot 510.
  machine: { plugin: "@allockit/x86-machine", options: { ramMiB, cpus: 2 } },
  pmm: { plugin: "@allockit/pmm-bitmap" },
  vmm: { plugin: "@allockit/vmm", options: { mode: "long", access: "recursive" } },
  // One allocation in 32 goes through the guard-page heap (as KFENCE samples in production),
  // the rest to the slab heap.
  heap: {
    plugin: "@allockit/heap-guard",
    options: { sample: { every: 32, heap: { plugin: "@allockit/heap-slab" } } },
  },
};
