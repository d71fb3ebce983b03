import { ZONES, type Zone } from "@allockit/core";
import { machineCpus, type ReportedSystem } from "./system.js";

/** The time series of a run, column by column: entry i of every array is sample i. */
export interface ReportSeries {
  /** The workload's operation count at each sample. */
  step: number[];
  heapLiveBytes: number[];
  heapFootprintBytes: number[];
  /** footprint / live; null while nothing is live. */
  fragmentation: Array<number | null>;
  /** PMM free frames per zone (empty arrays without a PMM). */
  pmmFreeFrames: Record<Zone, number[]>;
  /** VMM counters, cumulative (empty arrays without a VMM). */
  demandZeroFaults: number[];
  copyOnWriteFaults: number[];
  heapGrowthFaults: number[];
  badFaults: number[];
  invlpgs: number[];
  shootdowns: number[];
  /** TLB hits and misses per CPU, cumulative: tlbHits[cpu][sample]. */
  tlbHits: number[][];
  tlbMisses: number[][];
}

/**
 * Records a system's figures over a run into plain arrays: call `sample(step)` every K
 * operations (a Workload's onProgress does). Reporting, not a hot path: one sample reads the
 * heap's, PMM's and VMM's stats() and each CPU's counters.
 */
export class ReportRecorder {
  readonly series: ReportSeries;
  private readonly cpus: Array<{ counters(): { hits: number; misses: number } }>;

  constructor(private readonly system: ReportedSystem) {
    this.cpus = machineCpus(system.machine);
    this.series = {
      step: [],
      heapLiveBytes: [],
      heapFootprintBytes: [],
      fragmentation: [],
      pmmFreeFrames: { DMA: [], DMA32: [], NORMAL: [] },
      demandZeroFaults: [],
      copyOnWriteFaults: [],
      heapGrowthFaults: [],
      badFaults: [],
      invlpgs: [],
      shootdowns: [],
      tlbHits: this.cpus.map(() => []),
      tlbMisses: this.cpus.map(() => []),
    };
  }

  /** Records one sample at operation count `step`. */
  sample(step: number): void {
    const series = this.series;
    const { heap, pmm, vmm } = this.system;
    series.step.push(step);
    const heapStats = heap.stats();
    series.heapLiveBytes.push(heapStats.liveBytes);
    series.heapFootprintBytes.push(heapStats.footprintBytes);
    series.fragmentation.push(fragmentation(heapStats.footprintBytes, heapStats.liveBytes));
    if (pmm !== undefined) {
      const zones = pmm.stats().zones;
      for (const zone of ZONES) series.pmmFreeFrames[zone].push(zones[zone].freeFrames);
    }
    if (vmm !== undefined) {
      const stats = vmm.stats();
      series.demandZeroFaults.push(stats.demandZeroFaults);
      series.copyOnWriteFaults.push(stats.copyOnWriteFaults);
      series.heapGrowthFaults.push(stats.heapGrowthFaults);
      series.badFaults.push(stats.badFaults);
      series.invlpgs.push(stats.invlpgs);
      series.shootdowns.push(stats.shootdowns);
    }
    this.cpus.forEach((cpu, index) => {
      const counters = cpu.counters();
      series.tlbHits[index]!.push(counters.hits);
      series.tlbMisses[index]!.push(counters.misses);
    });
  }

  /** How many samples were taken. */
  get samples(): number {
    return this.series.step.length;
  }
}

/** footprint / live, rounded to 4 decimals; null when nothing is live. */
export function fragmentation(footprintBytes: number, liveBytes: number): number | null {
  return liveBytes > 0 ? Math.round((footprintBytes / liveBytes) * 1e4) / 1e4 : null;
}
