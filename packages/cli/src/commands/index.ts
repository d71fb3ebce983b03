import type { CliCommand } from "../registry.js";
import { benchCommand } from "./bench.js";
import { bootCommand } from "./boot.js";
import { conformanceCommand } from "./conformance.js";
import { memmapCommand } from "./memmap.js";
import { newPluginCommand } from "./new-plugin.js";
import { reportCommand } from "./report.js";
import { runCommand } from "./run.js";
import { scenarioCommand } from "./scenario.js";
import { schemaCommand } from "./schema.js";
import { traceCommand } from "./trace.js";
import { walkCommand } from "./walk.js";

/** The subcommands the cli package itself provides. */
export const BUILTIN_COMMANDS: readonly CliCommand[] = [
  runCommand,
  bootCommand,
  scenarioCommand,
  walkCommand,
  schemaCommand,
  traceCommand,
  memmapCommand,
  reportCommand,
  benchCommand,
  conformanceCommand,
  newPluginCommand,
];
