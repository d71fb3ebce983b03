import { flatHeapFactory, heapConformance } from "@allockit/conformance";
import { SlabHeap } from "@allockit/heap-slab";

// Default options: one empty slab kept per cache, colouring on, off-slab from 512 bytes.
heapConformance(
  "SlabHeap over FlatPageSource",
  flatHeapFactory((source) => new SlabHeap(source)),
);

// Every empty slab released at once (releasesMemory), at packed 48-bit addresses as in long
// mode, off-slab headers from 64 bytes, no colouring.
heapConformance(
  "SlabHeap keeping no empty slab, at 0x9000_0000_0000, off-slab from 64 bytes",
  flatHeapFactory(
    (source) => new SlabHeap(source, { keepEmptySlabs: 0, offSlabThreshold: 64, colouring: false }),
    { base: 0x9000_0000_0000 },
  ),
  { numRuns: 300, maxAlign: 65536 },
);
