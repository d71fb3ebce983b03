import type { CliCommand } from "../registry.js";
import { bootCommand } from "./boot.js";
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
];
