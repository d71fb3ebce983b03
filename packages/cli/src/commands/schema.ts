import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { composedConfigJsonSchema } from "@allockit/core";
import { loadFirstPartyPlugins } from "../first-party.js";
import type { CliCommand } from "../registry.js";

/** The config schema with the options of every first-party plugin, as text. */
export async function configSchemaText(): Promise<string> {
  return JSON.stringify(composedConfigJsonSchema(await loadFirstPartyPlugins()), null, 2) + "\n";
}

/**
 * Prints (or writes) the config's JSON Schema, with the options schema of every first-party
 * plugin, for editors that complete and check configs. The same schema ships as
 * schema/allockit.schema.json in this package.
 */
export const schemaCommand: CliCommand = {
  name: "schema",
  description:
    "print the JSON Schema of allockit config files (first-party plugin options included)",
  configure(command: Command) {
    command
      .option("-o, --out <file>", "write it to a file instead of standard output")
      .action(async (options: { out?: string }) => {
        const text = await configSchemaText();
        if (options.out === undefined) process.stdout.write(text);
        else writeFileSync(options.out, text);
      });
  },
};
