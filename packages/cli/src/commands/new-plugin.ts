import { relative } from "node:path";
import { Option, type Command } from "commander";
import type { CliCommand } from "../registry.js";
import { SCAFFOLD_KINDS, scaffoldPlugin } from "../scaffold.js";

export const newPluginCommand: CliCommand = {
  name: "new-plugin",
  description: "scaffold a third-party plugin package (heap, pmm or vmm) with its conformance test",
  configure(command: Command) {
    command
      .argument("<name>", "npm package name of the plugin (my-heap, @me/allockit-buddy ...)")
      .addOption(
        new Option("--kind <kind>", "what the plugin provides")
          .choices(SCAFFOLD_KINDS)
          .makeOptionMandatory(),
      )
      .option("--dir <dir>", "parent directory (default: the current one)")
      .action((name: string, options: { kind: string; dir?: string }) => {
        const result = scaffoldPlugin({
          name,
          kind: options.kind,
          ...(options.dir === undefined ? {} : { dir: options.dir }),
        });
        const where = relative(process.cwd(), result.directory) || ".";
        const lines = [
          `allockit new-plugin: ${result.kind} plugin ${result.name} (${result.className}) in ${where}`,
          ...result.files.map((file) => `  ${file}`),
          "",
          "next:",
          `  cd ${where}`,
          "  npm install",
          "  npm run build && npm test           # the conformance suite, in vitest",
          "  npx allockit conformance .          # the same suite from the command line",
        ];
        process.stdout.write(lines.join("\n") + "\n");
      });
  },
};
