import { formatSize } from "@allockit/core";
import { formatRate, formatTable } from "./measure.js";
import { measureMmu, type MmuFigures } from "./tables/mmu.js";
import { measureSparseMachine, type SparseFigures } from "./tables/sparse-machine.js";
import { cpus } from "node:os";

export interface BenchOptions {
  /** Tiny sizes: exercises every code path fast (for CI), figures meaningless. */
  quick: boolean;
}

/** Everything `pnpm bench` measures (the JSON it writes). */
export interface BenchResults {
  machine: { node: string; cpu: string; cores: number; platform: string; quick: boolean };
  mmu: MmuFigures;
  sparseMachine: SparseFigures;
}

export function runBench(
  options: BenchOptions,
  log: (line: string) => void = () => {},
): BenchResults {
  const measure = options.quick
    ? { runs: 1, operations: 10_000 }
    : { runs: 7, operations: 20_000_000 };
  log("MMU: read32 / write32 through the TLB (all hits) next to a DataView loop ...");
  const mmu = measureMmu(measure);
  log("sparse machine: 64 GiB, 4-level paging, last page of RAM written and read ...");
  const sparseMachine = measureSparseMachine(options.quick ? 1 : 64);
  const cpu = cpus()[0];
  return {
    machine: {
      node: process.version,
      cpu: cpu?.model ?? "unknown",
      cores: cpus().length,
      platform: process.platform,
      quick: options.quick,
    },
    mmu,
    sparseMachine,
  };
}

export function formatBench(results: BenchResults): string {
  const { mmu, sparseMachine } = results;
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  return [
    `allockit bench on ${results.machine.cpu} (${results.machine.cores} cores), Node ${results.machine.node}${results.machine.quick ? " -- quick run, figures not meaningful" : ""}`,
    "",
    "MMU (4-level paging, every access a TLB hit), median ops/s",
    formatTable(
      ["access", "through the MMU", "raw DataView", "DataView / MMU"],
      [
        [
          "read32",
          formatRate(mmu.tlbHitRead32OpsPerSec),
          formatRate(mmu.dataViewRead32OpsPerSec),
          ratio(mmu.dataViewRead32OpsPerSec, mmu.tlbHitRead32OpsPerSec),
        ],
        [
          "write32",
          formatRate(mmu.tlbHitWrite32OpsPerSec),
          formatRate(mmu.dataViewWrite32OpsPerSec),
          ratio(mmu.dataViewWrite32OpsPerSec, mmu.tlbHitWrite32OpsPerSec),
        ],
      ],
    ),
    "",
    `Sparse machine: ${sparseMachine.ramGiB} GiB RAM, last page ${sparseMachine.lastPage} written and read through the MMU`,
    formatTable(
      ["host RSS", "before the machine", "pages backed"],
      [
        [
          formatSize(sparseMachine.hostRssBytes),
          formatSize(sparseMachine.baselineRssBytes),
          String(sparseMachine.touchedPages),
        ],
      ],
    ),
    "",
  ].join("\n");
}
