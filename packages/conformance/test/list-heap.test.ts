import { ListHeap } from "@allockit/core";
import { flatHeapFactory, heapConformance } from "../src/index.js";

// ListHeap, core's reference heap, with its default 64 KiB arenas and with one-page arenas
// (so nearly every allocation crosses arena boundaries and arenas come and go constantly).
heapConformance(
  "ListHeap over FlatPageSource",
  flatHeapFactory((source) => new ListHeap(source)),
);
heapConformance(
  "ListHeap with one-page arenas",
  flatHeapFactory((source) => new ListHeap(source, { arenaBytes: 4096 })),
);
