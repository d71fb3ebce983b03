import { MiB } from "@allockit/core";
import { flatHeapFactory, heapConformance, vmmHeapFactory } from "@allockit/conformance";
import { BucketHeap } from "../src/index.js";
import { bootLongMode } from "./machine.js";

// A bucket is 17 pages (64 KiB of pebble space plus headers), so the out-of-memory checks get
// a page limit of 64 instead of the suite's default 16, and blocks up to 80 KiB, larger than a
// bucket, so that the failure-injection script needs buckets beyond the first one.
const BUCKET_SUITE = { outOfMemoryPageLimit: 64, maxBlockSize: 80 * 1024 } as const;

heapConformance(
  "BucketHeap (first fit, 64 KiB buckets)",
  flatHeapFactory((source) => new BucketHeap(source), { memoryBytes: 16 * MiB }),
  BUCKET_SUITE,
);

// Best fit with larger buckets: fewer, fuller buckets and different split choices.
heapConformance(
  "BucketHeap (best fit, 128 KiB buckets)",
  flatHeapFactory((source) => new BucketHeap(source, { bucketKiB: 128, fit: "best" }), {
    memoryBytes: 16 * MiB,
  }),
  { outOfMemoryPageLimit: 96, numRuns: 300 },
);

// Alignments up to the heap's 1 MiB maximum: each such block may need a bucket of its own.
heapConformance(
  "BucketHeap with alignments up to 1 MiB",
  flatHeapFactory((source) => new BucketHeap(source), { memoryBytes: 48 * MiB }),
  { outOfMemoryPageLimit: 64, maxAlign: MiB, numRuns: 200 },
);

// On the machine: pointer fields hold 48-bit addresses and every access goes through the MMU.
heapConformance(
  "BucketHeap on the machine (long mode, buddy PMM)",
  vmmHeapFactory((source) => new BucketHeap(source), { boot: () => bootLongMode() }),
  BUCKET_SUITE,
);
