import { Option, type Command } from "commander";
import { GUARD_VIOLATION_KINDS, type GuardViolationKind } from "@allockit/heap-guard";
import { addWorkloadOptions } from "../options.js";
import type { CliCommand } from "../registry.js";
import { HEAP_SHORT_NAMES, MEMORY_KINDS } from "../heap-system.js";
import { formatRunReport, runSystem } from "../run.js";

interface RunCommandOptions {
  config?: string;
  heap?: string;
  memory?: string;
  dump?: boolean;
  inject?: GuardViolationKind;
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
      .option(
        "--heap <plugin>",
        `instead of a config: the heap (${Object.keys(HEAP_SHORT_NAMES).join(", ")} or a plugin package / path)`,
      )
      .option(
        "--memory <kind>",
        `with --heap: ${MEMORY_KINDS.join(" or ")} (default flat; machine boots long mode over a buddy PMM)`,
      )
      .option(
        "--dump",
        "print the heap's dump() after the workload (buckets and pebbles, slab caches ...)",
      )
      .addOption(
        new Option(
          "--inject <kind>",
          "after the workload, commit one bug on heap-guard and print its report (memory defaults to machine)",
        ).choices(GUARD_VIOLATION_KINDS),
      );
    addWorkloadOptions(command)
      .option("--json", "print the report as JSON")
      .action(async (options: RunCommandOptions) => {
        const onProgress = options.json ? undefined : terminalProgress();
        // Injected bugs are caught by guard pages, which need the machine's page tables.
        const heap =
          options.heap === undefined && options.memory === undefined && options.inject === undefined
            ? undefined
            : {
                heap: options.heap ?? (options.inject === undefined ? "list-heap" : "heap-guard"),
                memory: options.memory ?? (options.inject === undefined ? "flat" : "machine"),
              };
        const report = await runSystem({
          ...(options.config === undefined ? {} : { configFile: options.config }),
          ...(heap === undefined ? {} : { heap }),
          ...(options.dump === true ? { dump: true } : {}),
          ...(options.inject === undefined ? {} : { inject: options.inject }),
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
