import type { Command } from "commander";
import { integerOption } from "../options.js";
import type { CliCommand } from "../registry.js";
import { formatRunReport, runSystem } from "../run.js";

const DEFAULT_OPS = 300_000;
const DEFAULT_SEED = 1;
const DEFAULT_MAX_LIVE_BLOCKS = 4000;

interface RunCommandOptions {
  config?: string;
  ops: number;
  seed: number;
  maxLive: number;
  json?: boolean;
}

/** Progress on a terminal's stderr only, so pipes and --json output stay clean. */
function terminalProgress(): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, total) => {
    process.stderr.write(
      done < total ? `\rrunning: ${Math.floor((done / total) * 100)}%` : "\r\x1b[K",
    );
  };
}

export const runCommand: CliCommand = {
  name: "run",
  description:
    "compose a system (default: ListHeap over flat memory) and run a synthetic workload on its heap",
  configure(command: Command) {
    command
      .option(
        "-c, --config <file>",
        "JSON config naming the plugins (default: core's built-in config)",
      )
      .option("--ops <n>", "operations to perform", integerOption(1), DEFAULT_OPS)
      .option(
        "--seed <n>",
        "seed of the workload's random generator",
        integerOption(0, 0xffffffff),
        DEFAULT_SEED,
      )
      .option(
        "--max-live <blocks>",
        "most blocks live at once",
        integerOption(1, 1_000_000),
        DEFAULT_MAX_LIVE_BLOCKS,
      )
      .option("--json", "print the report as JSON")
      .action(async (options: RunCommandOptions) => {
        const onProgress = options.json ? undefined : terminalProgress();
        const report = await runSystem({
          ...(options.config === undefined ? {} : { configFile: options.config }),
          ops: options.ops,
          seed: options.seed,
          maxLiveBlocks: options.maxLive,
          ...(onProgress === undefined ? {} : { onProgress }),
        });
        process.stdout.write(
          options.json ? JSON.stringify(report, null, 2) + "\n" : formatRunReport(report),
        );
      });
  },
};
