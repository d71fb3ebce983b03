import { writeFileSync } from "node:fs";
import { InvalidArgumentError, type Command } from "commander";
import { AllocatorError } from "@allockit/core";
import { formatConformanceReport } from "../conformance-report.js";
import { NoConformanceSuite, runPluginConformance } from "../conformance-run.js";
import { MEMORY_KINDS } from "../heap-system.js";
import { formatJunit } from "../junit.js";
import { integerOption } from "../options.js";
import { ProgressBar } from "../progress.js";
import type { CliCommand } from "../registry.js";

interface ConformanceCommandOptions {
  runs?: number;
  seed?: number;
  memory?: string;
  options?: string;
  junit?: string;
  json?: boolean;
}

/** Exit status for a plugin whose kind has no suite: not a failure of the plugin, not a pass. */
export const NO_SUITE_EXIT_CODE = 2;

function parseOptionsJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new AllocatorError(
      "EINVAL",
      `--options ${JSON.stringify(text)} is not JSON: ${(error as Error).message}`,
      text,
    );
  }
}

/** A seed as fast-check prints it: any 32-bit integer, negative ones too. */
export function parseSeed(text: string): number {
  const value = /^-?[0-9]+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < -(2 ** 31) || value >= 2 ** 32) {
    throw new InvalidArgumentError("expected a whole number from -2147483648 to 4294967295");
  }
  return value;
}

function writeJunit(file: string, xml: string): void {
  try {
    writeFileSync(file, xml);
  } catch (error) {
    throw new AllocatorError(
      "EINVAL",
      `cannot write --junit ${file}: ${(error as Error).message}`,
      file,
    );
  }
}

export const conformanceCommand: CliCommand = {
  name: "conformance",
  description:
    "run the conformance suite of a heap, PMM or VMM plugin (package name or path) and report each check",
  configure(command: Command) {
    command
      .argument(
        "<plugin>",
        "plugin package name or path (first-party short names too: heap-slab, buddy ...)",
      )
      .option(
        "--runs <n>",
        "random sequences of the model-based check (default: the suite's, 1000)",
        integerOption(1, 10_000_000),
      )
      .option("--seed <n>", "seed of the random checks; a report's seed replays it", parseSeed)
      .option(
        "--memory <kind>",
        `heap plugins: ${MEMORY_KINDS.join(" or ")} (machine: long mode, buddy PMM, a kernel heap region per heap)`,
      )
      .option("--options <json>", "the plugin's options as JSON (default: its schema's defaults)")
      .option("--junit <file>", "also write the results as JUnit XML (for CI systems)")
      .option("--json", "print the report as JSON")
      .action(async (plugin: string, options: ConformanceCommandOptions) => {
        const progress = new ProgressBar("conformance");
        let report;
        try {
          report = await runPluginConformance({
            plugin,
            ...(options.runs === undefined ? {} : { runs: options.runs }),
            ...(options.seed === undefined ? {} : { seed: options.seed }),
            ...(options.memory === undefined ? {} : { memory: options.memory }),
            ...(options.options === undefined
              ? {}
              : { options: parseOptionsJson(options.options) }),
            onProgress: (done, total, doing) => progress.update(done, total, doing),
          });
        } catch (error) {
          if (!(error instanceof NoConformanceSuite)) throw error;
          process.stderr.write(`allockit conformance: ${error.message}\n`);
          process.exitCode = NO_SUITE_EXIT_CODE;
          return;
        } finally {
          progress.clear();
        }
        if (options.junit !== undefined) writeJunit(options.junit, formatJunit(report));
        process.stdout.write(
          options.json ? JSON.stringify(report, null, 2) + "\n" : formatConformanceReport(report),
        );
        if (!report.ok) process.exitCode = 1;
      });
  },
};
