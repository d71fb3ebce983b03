import { Command } from "commander";
import { BUILTIN_COMMANDS } from "./commands/index.js";
import { CLI_VERSION } from "./package-info.js";

/**
 * A subcommand of `allockit`. `configure` receives the commander Command already named and
 * described, and adds its arguments, options and action.
 */
export interface CliCommand {
  /** The subcommand's name, as typed: `allockit <name>`. */
  name: string;
  /** One line for `allockit --help`. */
  description: string;
  configure(command: Command): void;
}

const registeredCommands: CliCommand[] = [];

/**
 * Adds a subcommand to the ones {@link createProgram} builds by default. Packages that
 * contribute commands call this when the CLI loads them. A name already taken (by a built-in
 * or an earlier registration) throws.
 */
export function registerCommand(command: CliCommand): void {
  if (listCommands().some((known) => known.name === command.name)) {
    throw new Error(
      `allockit: a subcommand named ${JSON.stringify(command.name)} is already registered`,
    );
  }
  registeredCommands.push(command);
}

/** The built-in subcommands, then the registered ones in registration order. */
export function listCommands(): readonly CliCommand[] {
  return [...BUILTIN_COMMANDS, ...registeredCommands];
}

/**
 * Builds the `allockit` program (with --version and --help) from the given subcommands,
 * by default every registered one.
 */
export function createProgram(commands: readonly CliCommand[] = listCommands()): Command {
  const program = new Command("allockit")
    .description("compose, run and compare OS memory allocators on a simulated x86 machine")
    .version(CLI_VERSION)
    .showHelpAfterError("(allockit --help lists the commands and options)");
  const seen = new Set<string>();
  for (const command of commands) {
    if (seen.has(command.name)) {
      throw new Error(`allockit: two subcommands are named ${JSON.stringify(command.name)}`);
    }
    seen.add(command.name);
    command.configure(program.command(command.name).description(command.description));
  }
  return program;
}
