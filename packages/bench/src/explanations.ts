import { formatRate } from "./measure.js";
import { heapRow, machineFlatRatios, type GoalId } from "./goals.js";
import type { BenchResults } from "./run.js";
import type { TraceRow } from "./tables/trace.js";

const x = (value: number) => `${value.toFixed(2)}x`;
const ns = (opsPerSec: number) => `${(1e9 / opsPerSec).toFixed(0)} ns`;

function sampleRow(results: BenchResults, heap: string, memory?: string): TraceRow | undefined {
  return heapRow(results.heaps, results.heaps[0]?.trace, heap, memory);
}

/** Lines of prose as markdown: "" separates paragraphs, the rest joins into one line each. */
function prose(lines: readonly string[]): string {
  const paragraphs: string[][] = [[]];
  for (const line of lines) {
    if (line === "") paragraphs.push([]);
    else paragraphs[paragraphs.length - 1]!.push(line);
  }
  return paragraphs.map((words) => words.join(" ")).join("\n\n");
}

/**
 * What limits a missed goal, with the run's own figures: the text docs/benchmarks.md prints
 * under it. Each paragraph states the measurement that shows the limit.
 */
export function explainGoal(id: GoalId, results: BenchResults): string {
  const rate = (plugin: string, occupancy: number) =>
    results.pmm.find((r) => r.plugin === plugin && r.occupancy === occupancy)?.opsPerSec ?? NaN;
  const bump = sampleRow(results, "bump-arena");
  const native = sampleRow(results, "native-malloc");
  const slab = sampleRow(results, "heap-slab", "flat");
  const thing = sampleRow(results, "thi.ng");
  const bucket = sampleRow(results, "heap-bucket", "flat");
  const { mmu } = results;
  switch (id) {
    case "pmm-stack-vs-array": {
      const limit = results.pmmLimit.opsPerSec;
      return prose([
        `The bare loop runs ${formatRate(limit)} calls/s (${(1e9 / limit).toFixed(1)} ns a call): two typed-array`,
        "accesses that the JIT keeps in registers. pmm-stack at 0 % runs",
        `${formatRate(rate("pmm-stack", 0))} calls/s (${ns(rate("pmm-stack", 0))}), because every call reads and`,
        "writes its metadata in simulated RAM through the `PhysicalMemory` contract (a RAM range check, a",
        "sparse page lookup and a DataView access per word), checks the frame's allocated bit so a double",
        "free is caught, and validates its arguments. That price is the simulation's fidelity (metadata a",
        "stray write can corrupt, as on hardware), not the algorithm's: the same free stack on a plain",
        "Int32Array is the bare loop. Reaching 0.5x would mean keeping the stack outside simulated RAM.",
      ]);
    }
    case "pmm-90-vs-stack":
      return prose([
        `At 90 % occupancy pmm-stack runs ${formatRate(rate("pmm-stack", 0.9))} calls/s, pmm-bitmap`,
        `${formatRate(rate("pmm-bitmap", 0.9))} and pmm-buddy ${formatRate(rate("pmm-buddy", 0.9))}. At 90 % the free frames are`,
        "isolated order-0 blocks, so the buddy neither splits nor merges: a single-frame allocation",
        "and free make 11 simulated-RAM accesses (free-list links in the free frame, the order-0",
        "free bitmap, the allocated bitmap that catches a double free) where the stack makes 6, and",
        "about 70 % of the buddy's time in a profile is those accesses (about 12 ns each, 25 ns when",
        "one lands in another 4 MiB chunk of RAM than the last). Interleaving the order-0 free",
        "bitmap with the allocated bitmap would bring a pair to about 7 accesses.",
      ]);
    case "slab-vs-bump":
    case "slab-vs-native": {
      const harness = bump && native ? bump.opsPerSec / native.opsPerSec : NaN;
      return prose([
        `On the sample trace native malloc replays ${formatRate(native?.opsPerSec ?? NaN)} ops/s and the`,
        `JavaScript bump arena, which never frees and keeps no lists, ${formatRate(bump?.opsPerSec ?? NaN)}:`,
        `${x(harness)} of native. The bump arena is the replay harness's own limit (the loop over the trace's`,
        "columns, two 4-byte stamps per block written and checked through the Memory interface, a",
        "FlatMemory bounds check per access), so no heap on this harness can pass",
        `${x(harness)} of native. heap-slab runs ${formatRate(slab?.opsPerSec ?? NaN)} ops/s`,
        `(${ns(slab?.opsPerSec ?? NaN)} an operation against the bump arena's ${ns(bump?.opsPerSec ?? NaN)}):`,
        "its extra time is its metadata in simulated RAM, each word read or written through the Memory",
        "interface: the page-ownership hash lookup that tells with certainty whether a freed pointer is",
        "the heap's, the slab header, the free-list link and the allocation bitmap bit that catches a",
        "double free. The C library does the equivalent with plain loads and stores and does not",
        "check a double free with certainty.",
      ]);
    }
    case "slab-fragmentation":
    case "slab-fragmentation-vs-native":
      return prose([
        `heap-slab's fragmentation on the sample trace is ${slab?.fragmentation.toFixed(3)}, native malloc's`,
        `${native?.fragmentation.toFixed(3) ?? "not measured"}. Rounding is not what separates them: over every`,
        "request of the sample, heap-slab's 39 size classes (8-byte steps to 64, then four per",
        "doubling) hand out 1.079 bytes per byte asked, where 16-byte granules with an 8-byte header,",
        "as the C library's malloc carves them, hand out 1.124. The difference is slab-level",
        "overhead that a single arena does not have: each class keeps its own partially filled",
        "slabs (39 classes, so up to 39 partly empty pages at any moment, more for multi-page slabs),",
        "every slab carries its header and free-index array in its pages, the page-ownership table",
        "takes pages of its own, and one empty slab per class is kept for reuse (keeping none gave",
        "1.190 on this trace in a separate run: still above native, and about 1,900 more slab",
        "creations).",
      ]);
    case "bucket-vs-thing": {
      const needed = (thing?.opsPerSec ?? NaN) * 100;
      return prose([
        `@thi.ng/malloc replays the sample at ${formatRate(thing?.opsPerSec ?? NaN)} ops/s, so the goal asks`,
        `${formatRate(needed)} ops/s of heap-bucket (${ns(needed)} an operation); it runs`,
        `${formatRate(bucket?.opsPerSec ?? NaN)} (${ns(bucket?.opsPerSec ?? NaN)}). The bump arena, which does no`,
        `allocator work at all, takes ${ns(bump?.opsPerSec ?? NaN)} an operation on the same harness, and heap-slab,`,
        `the fastest plugin, ${ns(slab?.opsPerSec ?? NaN)}: 100x @thi.ng/malloc is out of reach of any heap that`,
        "does real work here. heap-bucket already finds a free pebble in a few accesses (144 size bins",
        "and a bitmap of the non-empty ones); what remains is BenLunt's pebble format. Counted on",
        "the sample, an allocation makes 44 Memory accesses, of which the search is 5: the rest",
        "splits the pebble, writing a whole 128-byte header for the remainder (magics, flags,",
        "alignment, size, parent and five 64-bit links), linking it into the bucket's chain and",
        "filing it in a bin. A free makes 58: 21 to find and validate the pebble's bucket and",
        "header, the rest to merge with free neighbours and refile. The slab heap needs about 11",
        "for an allocation and 15 for a free. Reaching the goal would take 5 to 10 accesses per",
        "operation, which 128-byte headers with five 64-bit links rule out.",
      ]);
    }
    case "machine-vs-flat": {
      const over = machineFlatRatios(results.heaps, results.heaps[0]?.trace).filter(
        (r) => r.ratio > 2,
      );
      const guard = over.some((r) => r.heap === "heap-guard-sampling");
      return prose([
        `Over the line: ${over.map((r) => `${r.heap} ${x(r.ratio)}`).join(", ")}. Every heap access on the`,
        "machine is a virtual read or write through the CPU: a TLB hit (a one-entry last-page cache",
        `first, then the TLB) runs ${formatRate(mmu.tlbHitRead32OpsPerSec)} read32/s in the worst case of a new page`,
        `every access, against ${formatRate(mmu.dataViewRead32OpsPerSec)} on a raw DataView, and a miss walks the tables`,
        `(${mmu.walks.map((w) => `${w.mode} ${w.walkNs.toFixed(0)} ns`).join(", ")}). Kernel addresses lie above 2^31, so`,
        "V8 holds them as heap numbers rather than small integers, and every address passed to a",
        "function the JIT did not inline allocates: garbage collection takes a visible share of a",
        "machine replay and almost none of a flat one.",
        ...(over.some((r) => r.heap === "list-heap")
          ? [
              "",
              "list-heap, core's reference heap, is a first-fit free list with 8-byte links: an",
              "allocation walks free blocks across many pages, and each step reads a link as two",
              "32-bit reads through the CPU (the virtual Memory contract has no 64-bit access), on a",
              "page other than the last one read, so the last-page cache misses into the TLB lookup.",
              "In a profile of five machine replays, the CPU's read path (read32 and its TLB lookup)",
              "and the heap's 64-bit link reads took 28 % of the process's time (trace parsing and",
              "start-up included); on flat memory the same",
              "reads are a bounds check and a DataView access each. A 64-bit read in the Memory",
              "contract would halve those calls for every heap with 64-bit links.",
            ]
          : []),
        ...(guard
          ? [
              "",
              "heap-guard-sampling: each of its guarded allocations (1 in 64) maps a real",
              "page on the machine and each free unmaps it again, so a use after free faults. Its",
              "KFENCE-style pool reserves the slots and their guard pages once, but the VMM contract",
              "has no call that makes a reserved page present or not present while keeping it",
              "reserved, so an allocation is still an unmap of the reservation plus a map of a",
              "committed page (region-tree updates, a frame from the PMM zeroed, PTE writes) and a",
              "free the reverse (PTE clear, INVLPG, the frame back). On flat memory the guard pages",
              "are simulated by a wrapper around the memory, with no page tables at all. Measured in",
              "one process, the pool took 30-38 ms off a machine replay, to 1.94-1.99x; a present-bit",
              "toggle on a pool region in the VMM would remove the remaining region-tree work.",
            ]
          : []),
      ]);
    }
    case "boot-64g":
    case "boot-64g-vs-1g": {
      const rows = results.boot.filter(
        (b) => b.mode === "long" && (b.ramGiB === 1 || b.ramGiB === 64),
      );
      return prose([
        "Long-mode boots, 1 GiB then 64 GiB: " +
          rows
            .map(
              (b) =>
                `${b.pmm} ${b.ramGiB} GiB ${(b.seconds * 1000).toFixed(2)} ms (pmm init ${(b.pmmSeconds * 1000).toFixed(2)} ms)`,
            )
            .join(", ") +
          ".",
        "The stage that grows with RAM is the PMM's init: it writes metadata for every frame.",
      ]);
    }
    case "vmm-100k-vs-1k": {
      const firstFit = results.vmmScaling.goals.find((g) => g.pattern === "first fit");
      return prose([
        firstFit === undefined || firstFit.met
          ? "First fit, which follows the same tree path and page table every time, stays within the goal:"
          : `First fit, which follows the same tree path and page table every time, stays within it in ${firstFit.within} of ${firstFit.of} configurations (worst ${x(firstFit.worstRatio)}, ${firstFit.worst}; it varies from run to run with the host):`,
        "the VMM's work per pair grows only with the O(log n) depth of its AVL region tree (about 17",
        "levels at 100,000 against 10 at 1,000). What the spread pattern adds is host cache misses. A",
        "map and an unmap take five root-to-leaf descents of the tree (map looks for an overlap, then",
        "insert looks again and inserts; unmap collects the overlapping regions, then removes), whose",
        "nodes are JavaScript objects scattered over the host heap, and each pair walks a different",
        "page table, another 4 KiB page of simulated RAM. In a separate run (packages/bench/README.md),",
        "map + unmap in long mode cost 2.0 us with 1,000 regions, 2.1 us with 100,000 live but the",
        "pattern cycling over 1,000 of them and 4.1-4.4 us cycling over all 100,000; the region tree",
        "alone went from 0.47 to 1.2-1.4 us per operation. Getting spread under the goal would take",
        "fewer descents per map and unmap and a cache-friendlier region tree (wide B-tree nodes, as",
        "in Linux's maple tree).",
      ]);
    }
  }
}
