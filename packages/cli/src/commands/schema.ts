import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { configJsonSchema } from "@allockit/core";
import type { CliCommand } from "../registry.js";

/** Prints (or writes) the config's JSON Schema, for editors that complete and check configs. */
export const schemaCommand: CliCommand = {
  name: "schema",
  description: "print the JSON Schema of allockit config files",
  configure(command: Command) {
    command
      .option("-o, --out <file>", "write it to a file instead of standard output")
      .action((options: { out?: string }) => {
        const text = JSON.stringify(configJsonSchema(), null, 2) + "\n";
        if (options.out === undefined) process.stdout.write(text);
        else writeFileSync(options.out, text);
      });
  },
};
