import { readFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { AllocatorError, parseAddress } from "@allockit/core";
import {
  applyControlBits,
  explainWalk,
  formatWalk,
  machineFromDump,
  parseLinear,
  scenarioMachine,
  type Machine,
} from "@allockit/x86-machine";
import { integerOption } from "../options.js";
import type { CliCommand } from "../registry.js";
import { composeSystem } from "../system.js";
import { readJsonFile } from "./scenario.js";

interface WalkOptions {
  config?: string;
  scenario?: string;
  dump?: string;
  base?: string;
  mode?: "32bit" | "pae" | "long";
  cr3?: string;
  va: string;
  access: "read" | "write" | "fetch";
  cpl: number;
  implicit?: boolean;
  maxPhysAddr?: number;
  wp?: boolean;
  pse?: boolean;
  pge?: boolean;
  smep?: boolean;
  smap?: boolean;
  nxe?: boolean;
  ac?: boolean;
  json?: boolean;
}

function address(text: string | undefined, what: string): number {
  if (text === undefined)
    throw new AllocatorError("EINVAL", `allockit walk --dump needs ${what}`, text);
  try {
    return parseAddress(text);
  } catch {
    throw new AllocatorError("EINVAL", `${what} ${JSON.stringify(text)} is not an address`, text);
  }
}

/** The booted machine of a config (CPU 0 has the kernel space loaded, paging on). */
async function bootedMachine(configFile: string): Promise<Machine> {
  const system = await composeSystem(configFile);
  const machine = system.machine as Partial<Machine> | undefined;
  if (system.vmm === undefined || machine?.cpus === undefined) {
    throw new AllocatorError(
      "EINVAL",
      `allockit walk --config ${configFile}: the config has no x86 machine with a VMM to walk`,
      configFile,
    );
  }
  return machine as Machine;
}

function machineFor(options: WalkOptions): Machine {
  const bits = {
    ...(options.wp === undefined ? {} : { wp: options.wp }),
    ...(options.pse === undefined ? {} : { pse: options.pse }),
    ...(options.pge === undefined ? {} : { pge: options.pge }),
    ...(options.smep === undefined ? {} : { smep: options.smep }),
    ...(options.smap === undefined ? {} : { smap: options.smap }),
    ...(options.nxe === undefined ? {} : { nxe: options.nxe }),
    ...(options.ac === undefined ? {} : { ac: options.ac }),
  };
  if (options.scenario !== undefined) {
    const { machine } = scenarioMachine(readJsonFile(options.scenario));
    applyControlBits(machine.cpu, bits);
    return machine;
  }
  if (options.dump === undefined) {
    throw new AllocatorError(
      "EINVAL",
      "allockit walk needs --scenario FILE or --dump FILE --base ADDR",
      options,
    );
  }
  if (options.mode === undefined)
    throw new AllocatorError("EINVAL", "allockit walk --dump needs --mode", options);
  const dump = new Uint8Array(readFileSync(options.dump));
  return machineFromDump(dump, address(options.base, "--base"), {
    mode: options.mode,
    cr3: address(options.cr3, "--cr3"),
    ...(options.maxPhysAddr === undefined ? {} : { maxPhysAddr: options.maxPhysAddr }),
    ...bits,
  });
}

export const walkCommand: CliCommand = {
  name: "walk",
  description:
    "explain a page walk level by level, in a booted config, a scenario file or a raw memory dump",
  configure(command: Command) {
    command
      .option(
        "-c, --config <file>",
        "boot a config (JSON or .mjs) and walk on its first CPU, the kernel space loaded",
      )
      .option(
        "--scenario <file>",
        "set the machine up from a scenario file (its steps are not run)",
      )
      .option("--dump <file>", "raw physical memory dump (QEMU pmemsave)")
      .option("--base <addr>", "physical address of the dump's first byte")
      .addOption(
        new Option("--mode <mode>", "paging mode (with --dump)").choices(["32bit", "pae", "long"]),
      )
      .option("--cr3 <addr>", "CR3 (with --dump)")
      .requiredOption("--va <addr>", "linear address (canonical hex in long mode)")
      .addOption(
        new Option("--access <kind>", "access kind")
          .choices(["read", "write", "fetch"])
          .default("read"),
      )
      .option("--cpl <n>", "privilege level of the access", integerOption(0, 3), 0)
      .option("--implicit", "an implicit supervisor-mode access (GDT, IDT, TSS)")
      .option(
        "--max-phys-addr <bits>",
        "MAXPHYADDR (with --dump; default 52)",
        integerOption(32, 52),
      )
      .option("--wp", "CR0.WP=1")
      .option("--pse", "CR4.PSE=1")
      .option("--pge", "CR4.PGE=1")
      .option("--smep", "CR4.SMEP=1")
      .option("--smap", "CR4.SMAP=1")
      .option("--nxe", "EFER.NXE=1")
      .option("--ac", "RFLAGS.AC=1")
      .option("--json", "print the walk as JSON")
      .action(async (options: WalkOptions) => {
        const machine =
          options.config === undefined ? machineFor(options) : await bootedMachine(options.config);
        const cpu = machine.cpu;
        const va = parseLinear(cpu, options.va);
        const request = { cpl: options.cpl, implicit: options.implicit === true };
        const trace = explainWalk(cpu, va, options.access, request);
        process.stdout.write(
          options.json ? JSON.stringify(trace, null, 2) + "\n" : formatWalk(cpu, trace, request),
        );
        if (!trace.ok) process.exitCode = 2;
      });
  },
};
