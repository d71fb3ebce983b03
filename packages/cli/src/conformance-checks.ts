import {
  profileHeap,
  profilePmm,
  runAlignmentSweep,
  runBadArgumentTable,
  runBadPointerTable,
  runFailureInjection,
  runHeapModel,
  runOutOfMemory,
  runPmmBadArguments,
  runPmmBadFrees,
  runPmmExhaustion,
  runPmmInit,
  runPmmModel,
  runPmmPageSizes,
  runPmmReserve,
  runReleaseScenario,
  runVmmBadArguments,
  runVmmDestroy,
  runVmmFreshZero,
  runVmmKernelSharing,
  runVmmModel,
  runVmmStackGuard,
  runVmmUserSupervisor,
  type HeapFactory,
  type PmmFactory,
  type VmmFactory,
  type VmmScenarioReport,
} from "@allockit/conformance/run";

/** What a passing check did. */
export interface CheckOutcome {
  summary: string;
  counts: Record<string, number>;
  /** Set when the check could not run on this allocator, with the reason. */
  skipped?: string;
}

/** One check of a suite, ready to run (it throws on the first violation). */
export interface ConformanceCheck {
  name: string;
  description: string;
  run(): CheckOutcome;
}

/** The run count and seed every check of one suite shares. */
export interface SuiteSettings {
  numRuns: number;
  seed: number;
}

const number = (n: number): string => n.toLocaleString("en-US");

function cases(report: { checked: number; skipped?: string }, unit = "cases"): CheckOutcome {
  const outcome: CheckOutcome = {
    summary: `${number(report.checked)} ${unit}`,
    counts: { checked: report.checked },
  };
  if (report.skipped !== undefined) outcome.skipped = report.skipped;
  return outcome;
}

/** The eight checks of the heap suite, in the order `heapConformance` declares them. */
export function heapChecks(factory: HeapFactory, settings: SuiteSettings): ConformanceCheck[] {
  const options = { numRuns: settings.numRuns, seed: settings.seed };
  return [
    {
      name: "properties",
      description: "name, defaultAlign, maxAlign, releasesMemory and empty stats of a fresh heap",
      run() {
        const p = profileHeap(factory);
        return {
          summary: `${p.name}: defaultAlign ${p.defaultAlign}, maxAlign ${p.maxAlign}, ${p.releasesMemory ? "releases" : "keeps"} memory`,
          counts: { defaultAlign: p.defaultAlign, maxAlign: p.maxAlign },
        };
      },
    },
    {
      name: "alignment sweep",
      description: "every alignment with sizes around the default alignment and page boundaries",
      run: () => cases(runAlignmentSweep(factory, options), "allocations"),
    },
    {
      name: "bad arguments",
      description: "malformed sizes and alignments raise EINVAL naming the value, changing nothing",
      run: () => cases(runBadArgumentTable(factory, options), "calls"),
    },
    {
      name: "bad pointers",
      description: "foreign, interior and freed pointers: heap_size 0, heap_free throws",
      run: () => cases(runBadPointerTable(factory, options), "pointers"),
    },
    {
      name: "out of memory",
      description: "heap_alloc returns 0 when the page source runs out, and recovers after frees",
      run: () => cases(runOutOfMemory(factory, options)),
    },
    {
      name: "release",
      description: "stats empty (and every page back) after freeing everything, in three orders",
      run: () => cases(runReleaseScenario(factory, options), "scenarios"),
    },
    {
      name: "failure injection",
      description: "each page request refused in turn (and every later one): 0, never corruption",
      run() {
        const report = runFailureInjection(factory, options);
        const runs = report.runs.once + report.runs.from;
        const outcome: CheckOutcome = {
          summary: `${number(report.pageRequests)} page requests, ${number(runs)} heaps with a refused request, ${number(report.outOfMemory)} allocations returned 0`,
          counts: {
            pageRequests: report.pageRequests,
            heaps: runs,
            outOfMemory: report.outOfMemory,
          },
        };
        if (report.skipped !== undefined) outcome.skipped = report.skipped;
        return outcome;
      },
    },
    {
      name: "model run",
      description: `every invariant over ${number(settings.numRuns)} random operation sequences (model-based)`,
      run() {
        const r = runHeapModel(factory, options);
        return {
          summary: `${number(r.numRuns)} sequences, ${number(r.steps)} steps, ${number(r.allocations)} allocations, ${number(r.outOfMemory)} out of memory, ${number(r.rejectedCalls)} bad calls rejected`,
          counts: {
            sequences: r.numRuns,
            steps: r.steps,
            allocations: r.allocations,
            outOfMemory: r.outOfMemory,
            rejectedCalls: r.rejectedCalls,
            reallocMoves: r.reallocMoves,
          },
        };
      },
    },
  ];
}

/** The eight checks of the PMM suite, in the order `pmmConformance` declares them. */
export function pmmChecks(factory: PmmFactory, settings: SuiteSettings): ConformanceCheck[] {
  const options = { numRuns: settings.numRuns, seed: settings.seed };
  return [
    {
      name: "properties",
      description: "a name and sane capabilities (contiguous, maxContiguousFrames, constraints)",
      run() {
        const p = profilePmm(factory);
        const constraints = [...p.constraints].join(", ") || "no";
        return {
          summary: `${p.name}: ${p.contiguous ? `runs of up to ${number(p.maxContiguousFrames)} frames` : "single frames"}, ${constraints} constraints`,
          counts: { maxContiguousFrames: p.maxContiguousFrames, pageSizes: p.pageSizes.length },
        };
      },
    },
    {
      name: "init",
      description: "init over every preset, real and generated map: exact frame and zone counts",
      run: () => cases(runPmmInit(factory, options), "maps"),
    },
    {
      name: "page sizes",
      description: "every declared page size handed out naturally aligned",
      run: () => cases(runPmmPageSizes(factory, options), "page sizes"),
    },
    {
      name: "bad arguments",
      description:
        "malformed requests raise EINVAL, undeclared ones EUNSUPPORTED, changing nothing",
      run: () => cases(runPmmBadArguments(factory, options), "calls"),
    },
    {
      name: "bad frees",
      description: "double, reserved, out-of-RAM and misaligned frees raise a typed error",
      run: () => cases(runPmmBadFrees(factory, options), "frees"),
    },
    {
      name: "reserve",
      description: "reserve() takes free frames out for good and refuses allocated ones",
      run: () => cases(runPmmReserve(factory, options)),
    },
    {
      name: "exhaustion",
      description: "runs out exactly at the free count, per zone too, and recovers after frees",
      run: () => cases(runPmmExhaustion(factory, options)),
    },
    {
      name: "model run",
      description: `every invariant over ${number(settings.numRuns)} random operation sequences (model-based)`,
      run() {
        const r = runPmmModel(factory, options);
        return {
          summary: `${number(r.numRuns)} sequences on ${r.groups.length} map groups, ${number(r.steps)} steps, ${number(r.allocations)} allocations, ${number(r.frees)} frees, ${number(r.rejectedCalls)} bad calls rejected`,
          counts: {
            sequences: r.numRuns,
            steps: r.steps,
            allocations: r.allocations,
            outOfMemory: r.outOfMemory,
            frees: r.frees,
            partialFrees: r.partialFrees,
            reserves: r.reserves,
            rejectedCalls: r.rejectedCalls,
          },
        };
      },
    },
  ];
}

function vmmCounts(r: VmmScenarioReport): CheckOutcome {
  return {
    summary: `${number(r.steps)} steps, ${number(r.maps)} maps, ${number(r.reads + r.writes)} accesses, ${number(r.expectedFaults)} faults as expected`,
    counts: {
      steps: r.steps,
      maps: r.maps,
      unmaps: r.unmaps,
      protects: r.protects,
      commits: r.commits,
      decommits: r.decommits,
      reads: r.reads,
      writes: r.writes,
      expectedFaults: r.expectedFaults,
      spacesCreated: r.spacesCreated,
      rejectedCalls: r.rejectedCalls,
    },
  };
}

/** The seven checks of the VMM suite, in the order `vmmConformance` declares them. */
export function vmmChecks(factory: VmmFactory, settings: SuiteSettings): ConformanceCheck[] {
  const options = { numRuns: settings.numRuns, seed: settings.seed };
  return [
    {
      name: "kernel sharing",
      description: "kernel mappings made in one space are seen from another, on the other CPU",
      run: () => vmmCounts(runVmmKernelSharing(factory)),
    },
    {
      name: "user / supervisor",
      description: "CPL 3 accesses to supervisor pages and writes to read-only pages fault",
      run: () => vmmCounts(runVmmUserSupervisor(factory)),
    },
    {
      name: "fresh zero",
      description: "pages are zeroed when handed out again after their frames were dirtied",
      run: () => vmmCounts(runVmmFreshZero(factory)),
    },
    {
      name: "stack guard",
      description: "a stack's guard page stays unmapped: every access to it faults",
      run: () => vmmCounts(runVmmStackGuard(factory)),
    },
    {
      name: "destroy",
      description: "destroying spaces returns every frame; the kernel space cannot be destroyed",
      run: () => vmmCounts(runVmmDestroy(factory)),
    },
    {
      name: "bad arguments",
      description: "bad map / protect / commit calls raise a typed error, changing nothing",
      run: () => vmmCounts(runVmmBadArguments(factory)),
    },
    {
      name: "model run",
      description: `every invariant over ${number(settings.numRuns)} random operation sequences (model-based)`,
      run() {
        const r = runVmmModel(factory, options);
        const outcome = vmmCounts(r);
        outcome.summary = `${number(r.numRuns)} sequences (${r.mode}, ${r.access}), ${outcome.summary}`;
        outcome.counts.sequences = r.numRuns;
        return outcome;
      },
    },
  ];
}
