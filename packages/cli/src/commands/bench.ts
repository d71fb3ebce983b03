import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import {
  formatBench,
  formatBenchMarkdown,
  judgeGoals,
  runBench,
  traceFilesIn,
  type BenchResults,
} from "@allockit/bench";
import { ProgressBar } from "../progress.js";
import type { CliCommand } from "../registry.js";

interface BenchCommandOptions {
  quick?: boolean;
  json?: string;
  markdown?: string;
  traces?: string;
  from?: string;
}

/**
 * `allockit bench`: every benchmark table (PMMs, MMU, sparse machine, VMM, boot, trace replay
 * on every heap and the references), with a progress bar on a terminal's stderr; the tables go
 * to stdout, the figures to --json and the report to --markdown. `--from JSON` re-renders a
 * saved run without measuring.
 */
export const benchCommand: CliCommand = {
  name: "bench",
  description:
    "run the benchmarks (PMMs, MMU, VMM, boot, trace replay on every heap and the references) and print their tables",
  configure(command: Command) {
    command
      .option("--quick", "tiny sizes: exercises every table fast, figures not meaningful")
      .option("--json <file>", "also write every figure as JSON")
      .option("--markdown <file>", "also write the report as markdown (docs/benchmarks.md)")
      .option("--traces <dir>", "also replay every *.trc / *.trc.gz trace file in this folder")
      .option("--from <json>", "measure nothing: render the figures of a saved --json file")
      .action((options: BenchCommandOptions) => {
        let results: BenchResults;
        if (options.from !== undefined) {
          if (options.quick || options.traces !== undefined)
            command.error("error: --from renders a saved run; --quick and --traces measure");
          results = readResults(command, options.from);
        } else {
          const traces = options.traces === undefined ? [] : traceFiles(command, options.traces);
          const bar = new ProgressBar("bench");
          results = runBench({ quick: options.quick === true, traces }, (done, total, label) => {
            if (bar.active) bar.update(done, total, label);
            else process.stderr.write(`[${done + 1}/${total}] ${label}\n`);
          });
          bar.clear();
        }
        process.stdout.write(formatBench(results));
        if (options.json !== undefined)
          writeFileSync(options.json, JSON.stringify(results, null, 2) + "\n");
        if (options.markdown !== undefined)
          writeFileSync(options.markdown, formatBenchMarkdown(results));
      });
  },
};

function traceFiles(command: Command, dir: string): string[] {
  let files: string[];
  try {
    files = traceFilesIn(resolve(dir));
  } catch (error) {
    command.error(`error: --traces ${dir}: ${(error as Error).message}`);
  }
  if (files.length === 0) command.error(`error: --traces ${dir}: no *.trc or *.trc.gz files there`);
  return files;
}

function readResults(command: Command, file: string): BenchResults {
  let results: BenchResults;
  try {
    results = JSON.parse(readFileSync(file, "utf8")) as BenchResults;
  } catch (error) {
    command.error(`error: --from ${file}: ${(error as Error).message}`);
  }
  for (const key of ["machine", "pmm", "mmu", "vmm", "boot", "heaps"] as const) {
    if (results[key] === undefined)
      command.error(`error: --from ${file}: not an allockit bench JSON (no "${key}")`);
  }
  // The goals are judged again, so the report follows the current goals and their wording.
  const { goals: _saved, ...figures } = results;
  return { ...figures, goals: judgeGoals(figures) };
}
