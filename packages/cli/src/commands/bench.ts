import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { BENCH_STAGES, formatBench, runBench } from "@allockit/bench";
import { ProgressBar } from "../progress.js";
import type { CliCommand } from "../registry.js";

interface BenchCommandOptions {
  quick?: boolean;
  json?: string;
}

/**
 * `allockit bench`: every benchmark table (PMMs, MMU, sparse machine, VMM, boot, trace replay),
 * with a progress bar on a terminal's stderr; the tables go to stdout.
 */
export const benchCommand: CliCommand = {
  name: "bench",
  description:
    "run the benchmarks (PMMs, MMU, VMM, boot, trace replay on every heap) and print their tables",
  configure(command: Command) {
    command
      .option("--quick", "tiny sizes: exercises every table fast, figures not meaningful")
      .option("--json <file>", "also write every figure as JSON")
      .action((options: BenchCommandOptions) => {
        const bar = new ProgressBar("bench");
        let stage = 0;
        const results = runBench({ quick: options.quick === true }, (line) => {
          if (bar.active) bar.update(stage++, BENCH_STAGES, line);
          else process.stderr.write(line + "\n");
        });
        bar.clear();
        process.stdout.write(formatBench(results));
        if (options.json !== undefined)
          writeFileSync(options.json, JSON.stringify(results, null, 2) + "\n");
      });
  },
};
