import type { Command } from "commander";
import { formatTraceReport } from "@allockit/core";
import { HEAP_SHORT_NAMES, MEMORY_KINDS } from "../heap-system.js";
import { integerOption } from "../options.js";
import type { CliCommand } from "../registry.js";
import { replayTraceFile } from "../trace.js";

interface TraceReplayCommandOptions {
  heap: string;
  memory: string;
  ops?: number;
  verify: boolean;
  json?: boolean;
}

export const traceCommand: CliCommand = {
  name: "trace",
  description: "replay allocation traces (malloc / free / realloc logs) on a heap",
  configure(command: Command) {
    command
      .command("replay <file>")
      .description(
        "replay a trace (text, or gzip when it ends in .gz) and report time, peak live bytes, footprint and fragmentation",
      )
      .option(
        "--heap <plugin>",
        `the heap: ${Object.keys(HEAP_SHORT_NAMES).join(", ")} or a plugin package / path`,
        "list-heap",
      )
      .option(
        "--memory <kind>",
        `${MEMORY_KINDS.join(" or ")}: flat memory, or the booted x86 machine (long mode, buddy PMM, VMM)`,
        "flat",
      )
      .option("--ops <n>", "replay only the first n operations", integerOption(1))
      .option("--no-verify", "do not stamp and check block contents (a little faster)")
      .option("--json", "print the report as JSON")
      .action(async (file: string, options: TraceReplayCommandOptions) => {
        const report = await replayTraceFile({
          file,
          heap: options.heap,
          memory: options.memory,
          verify: options.verify,
          ...(options.ops === undefined ? {} : { ops: options.ops }),
        });
        process.stdout.write(
          options.json ? JSON.stringify(report, null, 2) + "\n" : formatTraceReport(report),
        );
      });
  },
};
