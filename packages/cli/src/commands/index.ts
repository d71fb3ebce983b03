import type { CliCommand } from "../registry.js";
import { runCommand } from "./run.js";
import { schemaCommand } from "./schema.js";

/** The subcommands the cli package itself provides. */
export const BUILTIN_COMMANDS: readonly CliCommand[] = [runCommand, schemaCommand];
