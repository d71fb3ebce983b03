import { ZONES, type VmmStats, type Zone } from "@allockit/core";
import type { FrameMap } from "./frame-map.js";
import { FRAME_OWNERS, type OwnerInfo } from "./owners.js";
import { fragmentation, type ReportRecorder, type ReportSeries } from "./recorder.js";
import type { SpaceLayout, SystemSnapshot } from "./snapshot.js";
import { machineCpus, type ReportedSystem } from "./system.js";

/** The version of the report's JSON. */
export const REPORT_FORMAT = "allockit-report/1";

/** A configured layer, as the report's header lists it. */
export interface ReportPlugin {
  section: string;
  name: string;
}

/** What the workload did (numbers only), as the CLI's run reports it. */
export type RunFigures = Record<string, number>;

/** TLB counters of one CPU at the end. */
export interface TlbFigures {
  cpu: number;
  hits: number;
  misses: number;
  /** hits / (hits + misses); null before any translation. */
  hitRate: number | null;
}

/** The figures at the last sample, which the report's header shows. */
export interface FinalFigures {
  samples: number;
  heapLiveBytes: number;
  heapFootprintBytes: number;
  peakLiveBytes: number;
  peakFootprintBytes: number;
  /** footprint / live at the last sample; null when nothing was live. */
  fragmentation: number | null;
  /** PMM free frames per zone; null without a PMM. */
  pmmFreeFrames: Record<Zone, number> | null;
  pmmTotalFrames: number | null;
  /** Faults the VMM resolved or refused (demand-zero + COW + heap growth + bad); null without a VMM. */
  pageFaults: number | null;
  vmm: VmmStats | null;
  tlb: TlbFigures[];
  /** Over all CPUs; null without a machine or before any translation. */
  tlbHitRate: number | null;
}

/** Everything one report shows; `report.json` holds exactly this. */
export interface ReportData {
  format: typeof REPORT_FORMAT;
  title: string;
  /** Where the config came from (a file name, or a description). */
  source: string;
  plugins: ReportPlugin[];
  run: RunFigures | null;
  /** VMM paging mode and page-table access, when there is a VMM. */
  paging: { mode: string; access: string } | null;
  owners: OwnerInfo[];
  frameMap: FrameMap | null;
  spaces: SpaceLayout[];
  series: ReportSeries;
  final: FinalFigures;
}

export interface ReportDataOptions {
  system: ReportedSystem;
  recorder: ReportRecorder;
  snapshot: SystemSnapshot;
  source: string;
  plugins?: ReportPlugin[];
  run?: RunFigures;
  title?: string;
}

/** Assembles a report's data from a recorded run and its end snapshot. */
export function createReportData(options: ReportDataOptions): ReportData {
  const { system, recorder, snapshot } = options;
  const series = recorder.series;
  const last = series.step.length - 1;
  const heap = system.heap.stats();
  const pmm = system.pmm?.stats();
  const vmm = system.vmm?.stats() ?? null;
  const tlb = machineCpus(system.machine).map((_, cpu) => {
    const hits = last >= 0 ? (series.tlbHits[cpu]![last] ?? 0) : 0;
    const misses = last >= 0 ? (series.tlbMisses[cpu]![last] ?? 0) : 0;
    return { cpu, hits, misses, hitRate: hitRate(hits, misses) };
  });
  const totalHits = tlb.reduce((sum, t) => sum + t.hits, 0);
  const totalMisses = tlb.reduce((sum, t) => sum + t.misses, 0);
  const at = <T>(values: T[], fallback: T): T =>
    last >= 0 ? (values[last] ?? fallback) : fallback;
  const liveBytes = at(series.heapLiveBytes, heap.liveBytes);
  const footprintBytes = at(series.heapFootprintBytes, heap.footprintBytes);
  const pmmFree =
    pmm === undefined
      ? null
      : (Object.fromEntries(
          ZONES.map((zone) => [zone, at(series.pmmFreeFrames[zone], pmm.zones[zone].freeFrames)]),
        ) as Record<Zone, number>);
  const faults =
    vmm === null
      ? null
      : at(series.demandZeroFaults, vmm.demandZeroFaults) +
        at(series.copyOnWriteFaults, vmm.copyOnWriteFaults) +
        at(series.heapGrowthFaults, vmm.heapGrowthFaults) +
        at(series.badFaults, vmm.badFaults);
  const x86 = system.vmm as { mode?: unknown; access?: unknown } | undefined;
  return {
    format: REPORT_FORMAT,
    title: options.title ?? `allockit report: ${options.source}`,
    source: options.source,
    plugins: options.plugins ?? [],
    run: options.run ?? null,
    paging:
      typeof x86?.mode === "string" && typeof x86.access === "string"
        ? { mode: x86.mode, access: x86.access }
        : null,
    owners: FRAME_OWNERS.map((owner) => ({ ...owner })),
    frameMap: snapshot.frameMap,
    spaces: snapshot.spaces,
    series,
    final: {
      samples: series.step.length,
      heapLiveBytes: liveBytes,
      heapFootprintBytes: footprintBytes,
      peakLiveBytes: heap.peakLiveBytes,
      peakFootprintBytes: heap.peakFootprintBytes,
      fragmentation: fragmentation(footprintBytes, liveBytes),
      pmmFreeFrames: pmmFree,
      pmmTotalFrames: pmm?.totalFrames ?? null,
      pageFaults: faults,
      vmm,
      tlb,
      tlbHitRate: hitRate(totalHits, totalMisses),
    },
  };
}

/** hits / (hits + misses), rounded to 6 decimals; null when both are 0. */
export function hitRate(hits: number, misses: number): number | null {
  const total = hits + misses;
  return total > 0 ? Math.round((hits / total) * 1e6) / 1e6 : null;
}
