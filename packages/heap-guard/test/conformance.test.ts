import { ListHeap } from "@allockit/core";
import { flatHeapFactory, heapConformance } from "@allockit/conformance";
import { GuardHeap, SamplingHeap } from "../src/index.js";
import { slabHeapBuilder } from "./factories.js";

// The guard heap with its defaults over flat pages (no guard pages: slack, canary and frees
// are still checked), and with left-aligned objects and no quarantine.
heapConformance(
  "GuardHeap over FlatPageSource",
  flatHeapFactory((source) => new GuardHeap(source)),
);
heapConformance(
  "GuardHeap, left mode, no quarantine",
  flatHeapFactory((source) => new GuardHeap(source, { mode: "left", quarantinePages: 0 })),
);

// Sampling mode, every third allocation guarded, over core's reference heap and over the slab
// heap (loaded by name, as a config loads it). Both heaps grow from the one page source.
heapConformance(
  "SamplingHeap (1 in 3) over ListHeap",
  flatHeapFactory(
    (source) => new SamplingHeap(new ListHeap(source), new GuardHeap(source), { every: 3 }),
  ),
);
const slabOver = await slabHeapBuilder();
heapConformance(
  "SamplingHeap (1 in 3) over heap-slab",
  flatHeapFactory(
    (source) => new SamplingHeap(slabOver(source), new GuardHeap(source), { every: 3 }),
  ),
);
