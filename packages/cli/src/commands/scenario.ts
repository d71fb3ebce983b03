import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { AllocatorError } from "@allockit/core";
import { checkScenario, runScenario } from "@allockit/x86-machine";
import type { CliCommand } from "../registry.js";

/** Reads and parses a JSON file, or raises an EINVAL naming it. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new AllocatorError("EINVAL", `cannot read ${file}: ${(error as Error).message}`, file);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new AllocatorError("EINVAL", `${file} is not JSON: ${(error as Error).message}`, file);
  }
}

export const scenarioCommand: CliCommand = {
  name: "scenario",
  description: "run a paging scenario file on the x86 machine and print one JSON result per step",
  configure(command: Command) {
    command
      .argument("<file>", "scenario JSON file (format: packages/x86-machine/README.md)")
      .option("--explain", "add the rule behind every fault to its result")
      .option("--check", "compare with the file's expect entries; exit 1 on a mismatch")
      .action((file: string, options: { explain?: boolean; check?: boolean }) => {
        const scenario = readJsonFile(file);
        if (!options.check) {
          const result = runScenario(scenario, { explain: options.explain === true });
          process.stdout.write(JSON.stringify(result, null, 2) + "\n");
          return;
        }
        const { result, mismatches } = checkScenario(scenario);
        if (mismatches.length === 0) {
          process.stdout.write(`${file}: ${result.steps.length} steps, all as expected\n`);
          return;
        }
        for (const m of mismatches) {
          process.stdout.write(
            `${file}: step ${m.step} (${m.op}): expected ${JSON.stringify(m.expected)}, got ${JSON.stringify(m.actual)}\n`,
          );
        }
        process.exitCode = 1;
      });
  },
};
