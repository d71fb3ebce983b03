import type { Command } from "commander";
import { MEMORY_MAP_PRESETS } from "@allockit/x86-machine";
import {
  BOOT_ACCESSES,
  BOOT_DEFAULTS,
  BOOT_MODES,
  bootFromFlags,
  formatBootCommandReport,
} from "../boot.js";
import { integerOption } from "../options.js";
import type { CliCommand } from "../registry.js";

interface BootCommandOptions {
  mode?: string;
  pmm?: string;
  access?: string;
  ram?: number;
  preset?: string;
  cpus?: number;
  config?: string;
  json?: boolean;
}

export const bootCommand: CliCommand = {
  name: "boot",
  description:
    "boot an x86 system (firmware map, boot allocator, PMM, page tables, VMM, kernel heap) and report each stage",
  configure(command: Command) {
    // Enumerated values are checked by bootConfig, so a bad one is an EINVAL naming it.
    command
      .option(
        "--mode <mode>",
        `paging mode: ${BOOT_MODES.join(", ")} (default: ${BOOT_DEFAULTS.mode})`,
      )
      .option(
        "--pmm <name>",
        `page-frame allocator: stack, bitmap, buddy or a plugin package name (default: ${BOOT_DEFAULTS.pmm})`,
      )
      .option(
        "--access <how>",
        `how the VMM reaches page tables: ${BOOT_ACCESSES.join(", ")} (default: ${BOOT_DEFAULTS.access})`,
      )
      .option(
        "--ram <MiB>",
        `RAM from address 0 (default: ${BOOT_DEFAULTS.ramMiB})`,
        integerOption(4, 4 * 1024 * 1024),
      )
      .option(
        "--preset <name>",
        `a firmware memory map instead of --ram: ${Object.keys(MEMORY_MAP_PRESETS).join(", ")}`,
      )
      .option("--cpus <n>", "number of CPUs (default: 1)", integerOption(1, 256))
      .option(
        "-c, --config <file>",
        "JSON config to start from; the flags given override its machine, pmm and vmm sections",
      )
      .option("--json", "print the report as JSON")
      .action(async (options: BootCommandOptions) => {
        const outcome = await bootFromFlags({
          ...(options.mode === undefined ? {} : { mode: options.mode }),
          ...(options.pmm === undefined ? {} : { pmm: options.pmm }),
          ...(options.access === undefined ? {} : { access: options.access }),
          ...(options.ram === undefined ? {} : { ramMiB: options.ram }),
          ...(options.preset === undefined ? {} : { preset: options.preset }),
          ...(options.cpus === undefined ? {} : { cpus: options.cpus }),
          ...(options.config === undefined ? {} : { configFile: options.config }),
        });
        process.stdout.write(
          options.json
            ? JSON.stringify(outcome.report, null, 2) + "\n"
            : formatBootCommandReport(outcome),
        );
      });
  },
};
