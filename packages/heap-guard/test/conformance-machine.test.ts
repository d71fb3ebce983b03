import { heapConformance } from "@allockit/conformance";
import { SamplingHeap } from "../src/index.js";
import { guardMachineFactory, slabHeapBuilder } from "./factories.js";

// On the machine: guard pages around every run, freed runs unmapped and quarantined, every
// access through the MMU and TLB.
heapConformance("GuardHeap over a GuardPageSource on the machine", guardMachineFactory());

// Sampling over the slab heap on the machine: the slabs grow from the same guard page source
// (so each slab sits between guard pages too), one allocation in three is a guarded object.
const slabOver = await slabHeapBuilder();
heapConformance(
  "SamplingHeap (1 in 3) over heap-slab on the machine",
  guardMachineFactory(
    undefined,
    (source, guard) => new SamplingHeap(slabOver(source), guard, { every: 3 }),
  ),
);

// The KFENCE-style pool: one-page objects in slots between guard pages reserved once; a small
// pool so that it runs out and larger or later objects take the per-region path beside it.
heapConformance(
  "GuardHeap over a GuardPageSource with a 16-slot pool on the machine",
  guardMachineFactory(undefined, undefined, { poolSlots: 16 }),
);
heapConformance(
  "SamplingHeap (1 in 3) over heap-slab, guard pages from a pool, on the machine",
  guardMachineFactory(
    undefined,
    (source, guard) => new SamplingHeap(slabOver(source), guard, { every: 3 }),
    { poolSlots: 64 },
  ),
);
