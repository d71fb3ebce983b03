import { formatSize } from "@allockit/core";
import { formatRate, formatTable } from "./measure.js";
import type { BenchResults } from "./run.js";
import type { GoalResult } from "./goals.js";
import { MAP_PATTERNS } from "./tables/vmm.js";
import { explainGoal } from "./explanations.js";

/** One table of the report: the same rows go to the terminal and to docs/benchmarks.md. */
export interface BenchTable {
  title: string;
  header: string[];
  rows: string[][];
  /** Lines under the table. */
  notes: string[];
}

const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const count = (value: number) => value.toLocaleString("en-US");
const ms = (seconds: number, digits = 2) => `${(seconds * 1000).toFixed(digits)} ms`;

function pmmTables(results: BenchResults): BenchTable[] {
  const plugins = [...new Set(results.pmm.map((r) => r.plugin))];
  const rate = (plugin: string, occupancy: number) =>
    results.pmm.find((r) => r.plugin === plugin && r.occupancy === occupancy)?.opsPerSec ?? NaN;
  const stack90 = rate("pmm-stack", 0.9);
  const limit = results.pmmLimit.opsPerSec;
  return [
    {
      title:
        "PMM: single-frame alloc+free (rounds of 32 allocations, then 32 frees), 1 GiB q35 machine, median calls/s",
      header: ["plugin", "0 %", "50 %", "90 %", "90 % vs stack", "0 % vs Int32Array"],
      rows: [
        ...plugins.map((p) => [
          p,
          formatRate(rate(p, 0)),
          formatRate(rate(p, 0.5)),
          formatRate(rate(p, 0.9)),
          x(rate(p, 0.9), stack90),
          x(rate(p, 0), limit),
        ]),
        ["Int32Array push/pop", formatRate(limit), "", "", "", "1.00x"],
      ],
      notes: [
        "occupancy: that share of the managed frames allocated first, the free ones spread evenly",
      ],
    },
    {
      title: "PMM: contiguous runs (8 allocations, then 8 frees), median calls/s",
      header: ["plugin", "8 frames", "64 frames", "512 frames"],
      rows: [...new Set(results.pmmRuns.map((r) => r.plugin))].map((p) => [
        p,
        ...[8, 64, 512].map((f) =>
          formatRate(
            results.pmmRuns.find((r) => r.plugin === p && r.frames === f)?.opsPerSec ?? NaN,
          ),
        ),
      ]),
      notes: [],
    },
    {
      title: "PMM: init over a q35 map (fresh process each)",
      header: ["plugin", "RAM", "init", "host RSS", "RSS growth", "metadata", "metadata per GiB"],
      rows: results.pmmInit.map((r) => [
        r.plugin,
        `${r.ramGiB} GiB`,
        ms(r.seconds, 1),
        formatSize(r.hostRssBytes),
        formatSize(Math.max(0, r.hostRssBytes - r.baselineRssBytes)),
        formatSize(r.metadataBytes),
        formatSize(Math.round(r.metadataBytes / r.ramGiB)),
      ]),
      notes: ["metadata lives in simulated RAM; host RSS grows only by the pages written"],
    },
  ];
}

function mmuTables(results: BenchResults): BenchTable[] {
  const { mmu, sparseMachine } = results;
  return [
    {
      title: "MMU: read32 / write32 with every access a TLB hit (4-level paging), median ops/s",
      header: ["access", "through the MMU", "raw DataView", "DataView / MMU"],
      rows: [
        [
          "read32",
          formatRate(mmu.tlbHitRead32OpsPerSec),
          formatRate(mmu.dataViewRead32OpsPerSec),
          x(mmu.dataViewRead32OpsPerSec, mmu.tlbHitRead32OpsPerSec),
        ],
        [
          "write32",
          formatRate(mmu.tlbHitWrite32OpsPerSec),
          formatRate(mmu.dataViewWrite32OpsPerSec),
          x(mmu.dataViewWrite32OpsPerSec, mmu.tlbHitWrite32OpsPerSec),
        ],
      ],
      notes: [
        "64 pages, each access on another page than the last: the worst case for the CPU's last-page cache (the walk table's all-hits column shows one page)",
      ],
    },
    {
      title:
        "MMU: the page walk per mode (read32 alternating between two pages that share a TLB entry), median ops/s",
      header: ["mode", "levels", "all hits", "all misses", "walk + fill"],
      rows: mmu.walks.map((w) => [
        w.mode,
        String(w.levels),
        formatRate(w.hitRead32OpsPerSec),
        formatRate(w.missRead32OpsPerSec),
        `${w.walkNs.toFixed(0)} ns`,
      ]),
      notes: ["each mode in a fresh process; walk + fill = time per miss - time per hit"],
    },
    {
      title: `Sparse machine: ${sparseMachine.ramGiB} GiB RAM, last page ${sparseMachine.lastPage} written and read through the MMU`,
      header: ["host RSS", "before the machine", "pages backed"],
      rows: [
        [
          formatSize(sparseMachine.hostRssBytes),
          formatSize(sparseMachine.baselineRssBytes),
          String(sparseMachine.touchedPages),
        ],
      ],
      notes: [],
    },
  ];
}

function vmmTable(results: BenchResults): BenchTable {
  const { vmmScaling } = results;
  const [small, large] = [vmmScaling.sizes[0]!, vmmScaling.sizes[vmmScaling.sizes.length - 1]!];
  const largeRows = results.vmm.filter((r) => r.regions === large && r.pattern === MAP_PATTERNS[0]);
  const range = (values: number[], unit = "") =>
    `${count(Math.round(Math.min(...values)))}-${count(Math.round(Math.max(...values)))}${unit}`;
  return {
    title:
      "VMM: map (1 page, committed) + unmap in a user space with N live committed 1-page regions, 1 GiB machine, pmm-stack, median pairs/s",
    header: [
      "mode",
      "access",
      "pattern",
      `${count(small)} regions`,
      `${count(large)} regions`,
      "per-op time ratio",
    ],
    rows: vmmScaling.scaling.map((s) => [
      s.mode,
      s.access,
      s.pattern,
      formatRate(s.smallOpsPerSec),
      formatRate(s.largeOpsPerSec),
      `${s.ratio.toFixed(2)}x${s.met ? "" : " (over)"}`,
    ]),
    notes: [
      "first fit: no address, the gap search finds the lowest hole; spread: at a hole next to a different live region each time",
      `building ${count(large)} regions: ${range(
        largeRows.map((r) => r.fillMs),
        " ms",
      )}; VMM page-table pages with them live: ${range(largeRows.map((r) => r.pageTablePages))}`,
      ...vmmScaling.goals.map(
        (g) =>
          `${g.pattern}: ${g.within} of ${g.of} within ${vmmScaling.goalRatio}x (worst ${g.worstRatio.toFixed(2)}x, ${g.worst})`,
      ),
    ],
  };
}

function bootTable(results: BenchResults): BenchTable {
  const rows = results.boot;
  return {
    title: `Boot: bootSystem from the firmware map to the kernel heap, direct-map access, fresh process each: first boot, then median of ${rows[0]?.runs ?? 0} more`,
    header: [
      "machine",
      "mode",
      "pmm",
      "first boot",
      "boot",
      "pmm init",
      "page tables",
      "frames taken",
    ],
    rows: rows.map((r) => [
      `${r.machine}, ${r.ramGiB} GiB`,
      r.mode,
      r.pmm,
      ms(r.coldSeconds, 1),
      ms(r.seconds),
      ms(r.pmmSeconds),
      ms(r.pageTablesSeconds),
      `${count(r.frames)} (${formatSize(r.frames * 4096)})`,
    ]),
    notes: [],
  };
}

function traceTables(results: BenchResults): BenchTable[] {
  const traces = [...new Set(results.heaps.map((r) => r.trace))];
  return traces.map((trace) => {
    const rows = results.heaps.filter((r) => r.trace === trace);
    const first = rows[0];
    const hasNative = rows.some((r) => r.heap === "native-malloc");
    return {
      title: `Trace replay: ${trace}, ${count(first?.ops ?? 0)} operations (malloc / free / realloc), fresh process per heap, median of ${first?.runs ?? 0} (thi.ng: 1)`,
      header: [
        "heap",
        "memory",
        "ops/s",
        "time",
        "peak live",
        "peak footprint",
        "fragmentation",
        "failures",
      ],
      rows: rows.map((r) => [
        r.heap,
        r.memory,
        formatRate(r.opsPerSec),
        `${r.seconds.toFixed(3)} s`,
        formatSize(r.peakLiveBytes),
        formatSize(r.peakFootprintBytes),
        r.fragmentation.toFixed(3),
        count(r.failures),
      ]),
      notes: [
        "fragmentation = peak footprint (pages from the PageSource) / peak live bytes (sizes asked for)",
        "heap-guard-sampling: 1 allocation in 64 through guard pages, the rest to heap-slab",
        rows.some((r) => r.heap === "thi.ng")
          ? "thi.ng: @thi.ng/malloc's MemPool on the same replay harness, one replay"
          : "thi.ng: not measured (@thi.ng/malloc, a dev dependency of @allockit/bench, is not installed)",
        "bump-arena: a JavaScript bump pointer that never frees, on the same replay harness (the speed limit)",
        hasNative
          ? "native-malloc: the C library's malloc replaying the same trace in a C program (footprint: mallinfo2 arena + hblkhd)"
          : "native-malloc: not measured (no C compiler on this machine)",
      ],
    };
  });
}

const GOALS_TITLE = "Goals";

function goalsTable(goals: readonly GoalResult[]): BenchTable {
  return {
    title: GOALS_TITLE,
    header: ["goal", "measured", "status"],
    rows: goals.map((g) => [
      g.goal,
      g.measured,
      g.met === null ? "not measured" : g.met ? "met" : "MISSED",
    ]),
    notes: [],
  };
}

/** Every table of a run, in the order they are printed. */
export function benchTables(results: BenchResults): BenchTable[] {
  return [
    ...pmmTables(results),
    ...mmuTables(results),
    vmmTable(results),
    bootTable(results),
    ...traceTables(results),
    goalsTable(results.goals),
  ];
}

function describeMachine(results: BenchResults): string {
  const m = results.machine;
  return `${m.cpu} (${m.cores} cores, ${formatSize(m.memoryBytes)}), ${m.platform} ${m.arch}, Node ${m.node}`;
}

/** The plain-text report `allockit bench` prints. */
export function formatBench(results: BenchResults): string {
  const lines = [
    `allockit bench on ${describeMachine(results)}${results.machine.quick ? " -- quick run, figures not meaningful" : ""}`,
    "",
  ];
  for (const table of benchTables(results)) {
    if (table.title === GOALS_TITLE) continue;
    lines.push(table.title, formatTable(table.header, table.rows), ...table.notes, "");
  }
  lines.push(GOALS_TITLE);
  for (const goal of results.goals) {
    const status = goal.met === null ? "not measured" : goal.met ? "met" : "MISSED";
    lines.push(`  ${status.padEnd(12)} ${goal.goal}: ${goal.measured}`);
  }
  lines.push("");
  return lines.join("\n");
}

const cell = (text: string) => text.replace(/\|/g, "\\|");

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) =>
    Math.max(3, cell(h).length, ...rows.map((r) => cell(r[i] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => cell(c).padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(header),
    `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`,
    ...rows.map(line),
  ].join("\n");
}

/**
 * docs/benchmarks.md: the machine, every table, the goals, and for each missed goal the
 * measured limit behind it. Regenerated from a run's JSON by `pnpm bench:docs`.
 */
export function formatBenchMarkdown(results: BenchResults): string {
  const missed = results.goals.filter((g) => g.met === false);
  const out: string[] = [
    "# Benchmarks",
    "",
    "<!-- Generated by `pnpm bench` (or from its JSON by `pnpm bench:docs`); do not edit by hand. -->",
    "",
    `Measured on ${describeMachine(results)}, ${results.machine.date.slice(0, 10)}${results.machine.quick ? " (a --quick run: figures not meaningful)" : ""}.`,
    "Every figure is the median of several runs, with its baseline measured in the same run;",
    "`pnpm bench` writes this file and the JSON behind it ([benchmarks.json](benchmarks.json)).",
    "How each table is measured: [packages/bench/README.md](../packages/bench/README.md).",
    "",
    "## Goals",
    "",
    markdownTable(
      ["goal", "measured", "status"],
      results.goals.map((g) => [
        g.goal,
        g.measured,
        g.met === null ? "not measured" : g.met ? "met" : `missed: [why](#${g.id})`,
      ]),
    ),
    "",
  ];
  for (const table of benchTables(results)) {
    if (table.title === GOALS_TITLE) continue;
    out.push(`## ${table.title}`, "", markdownTable(table.header, table.rows), "");
    if (table.notes.length > 0) out.push(...table.notes.map((note) => `- ${note}`), "");
  }
  if (missed.length > 0) {
    out.push("## Missed goals: what limits each", "");
    for (const goal of missed) {
      out.push(
        `<a id="${goal.id}"></a>`,
        `### ${goal.goal}`,
        "",
        `Measured: ${goal.measured}.`,
        "",
        explainGoal(goal.id, results),
        "",
      );
    }
  }
  out.push(
    "## The JSON",
    "",
    "`allockit bench --json FILE` writes every figure; the shape is a public interface (fields are",
    "only added, never renamed). Its top-level keys:",
    "",
    ...JSON_KEYS.map(([key, text]) => `- \`${key}\`: ${text}`),
    "",
  );
  return out.join("\n");
}

/** The JSON's top-level keys, as docs/benchmarks.md documents them. */
export const JSON_KEYS: ReadonlyArray<readonly [keyof BenchResults, string]> = [
  ["machine", "`{ node, cpu, cores, platform, arch, memoryBytes, date, quick }`"],
  ["pmm", "`[{ plugin, occupancy, opsPerSec }]`: single-frame alloc+free per PMM and occupancy"],
  ["pmmLimit", "`{ opsPerSec }`: the same rounds on a bare Int32Array stack"],
  ["pmmRuns", "`[{ plugin, frames, opsPerSec }]`: contiguous runs of 8, 64 and 512 frames"],
  ["pmmInit", "`[{ plugin, ramGiB, seconds, hostRssBytes, baselineRssBytes, metadataBytes }]`"],
  [
    "mmu",
    "`{ tlbHitRead32OpsPerSec, dataViewRead32OpsPerSec, tlbHitWrite32OpsPerSec, dataViewWrite32OpsPerSec, walks: [{ mode, levels, missRead32OpsPerSec, hitRead32OpsPerSec, walkNs }] }`",
  ],
  ["sparseMachine", "`{ ramGiB, hostRssBytes, baselineRssBytes, touchedPages, lastPage }`"],
  [
    "vmm",
    "`[{ regions, opsPerSec, mode, access, pattern, fillMs, pageTablePages }]`: map+unmap pairs per second",
  ],
  ["vmmScaling", "`{ sizes, goalRatio, scaling: [...], goalMet, goals: [...] }`"],
  [
    "boot",
    "`[{ mode, pmm, ramGiB, seconds, machine, access, coldSeconds, pmmSeconds, pageTablesSeconds, frames, runs }]`",
  ],
  [
    "heaps",
    "`[{ trace, heap, memory, opsPerSec, peakLiveBytes, peakFootprintBytes, fragmentation, ops, seconds, failures, runs }]`; the references are the heaps `thi.ng`, `bump-arena` and `native-malloc`",
  ],
  [
    "goals",
    "`[{ id, goal, met, measured }]`: each goal judged on this run (`met` null: not measured)",
  ],
];
