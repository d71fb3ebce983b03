import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BUILTIN_COMMANDS } from "../src/commands/index.js";
import { createProgram, listCommands, registerCommand, type CliCommand } from "../src/registry.js";

const packageVersion = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

describe("command registry", () => {
  it("builds the program with the built-in commands and the package version", () => {
    const program = createProgram();
    expect(program.name()).toBe("allockit");
    expect(program.version()).toBe(packageVersion);
    expect(program.commands.map((command) => command.name())).toEqual(
      BUILTIN_COMMANDS.map((command) => command.name),
    );
  });

  it("adds registered commands, which run through the program", async () => {
    const seen: string[] = [];
    const greet: CliCommand = {
      name: "greet-test",
      description: "a command contributed by another package",
      configure(command) {
        command.argument("<who>").action((who: string) => {
          seen.push(who);
        });
      },
    };
    registerCommand(greet);
    expect(listCommands().map((command) => command.name)).toContain("greet-test");
    const program = createProgram();
    const added = program.commands.find((command) => command.name() === "greet-test");
    expect(added?.description()).toBe(greet.description);
    await program.parseAsync(["greet-test", "world"], { from: "user" });
    expect(seen).toEqual(["world"]);
  });

  it("refuses a name that is already taken", () => {
    const clash: CliCommand = { name: "run", description: "another run", configure() {} };
    expect(() => registerCommand(clash)).toThrow(/"run" is already registered/);
    expect(() => createProgram([clash, clash])).toThrow(/two subcommands are named "run"/);
  });

  it("builds only the commands it is given", () => {
    const program = createProgram([]);
    expect(program.commands).toEqual([]);
  });
});
