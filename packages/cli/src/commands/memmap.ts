import { readFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { AllocatorError } from "@allockit/core";
import { MEMMAP_FORMATS, formatMemmapReport, memmapReport, type MemmapFormat } from "../memmap.js";
import type { CliCommand } from "../registry.js";

interface MemmapCommandOptions {
  format?: MemmapFormat;
  json?: boolean;
}

/** The whole of a file, or of standard input for "-". */
function readInput(file: string): Uint8Array {
  try {
    return file === "-" ? readFileSync(0) : readFileSync(file);
  } catch (error) {
    throw new AllocatorError(
      "EINVAL",
      `cannot read memory map ${file}: ${(error as Error).message}`,
      file,
      { cause: error },
    );
  }
}

export const memmapCommand: CliCommand = {
  name: "memmap",
  description:
    "parse a firmware memory map (dmesg BIOS-e820 lines, /sys/firmware/memmap, multiboot1/2 dump) and print it raw, normalised, with totals and zones",
  configure(command: Command) {
    command
      .argument("<file>", "the dump, or - for standard input")
      .addOption(
        new Option("--format <format>", "the input format (default: detected)").choices(
          MEMMAP_FORMATS,
        ),
      )
      .option("--json", "print the report as JSON")
      .action((file: string, options: MemmapCommandOptions) => {
        const report = memmapReport(
          readInput(file),
          file === "-" ? "standard input" : file,
          options.format,
        );
        process.stdout.write(
          options.json ? JSON.stringify(report, null, 2) + "\n" : formatMemmapReport(report),
        );
      });
  },
};
