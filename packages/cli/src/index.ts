export { createProgram, listCommands, registerCommand, type CliCommand } from "./registry.js";
/** commander's Command, re-exported so packages that add subcommands need no commander of their own. */
export type { Command } from "commander";
export { BUILTIN_COMMANDS } from "./commands/index.js";
export { runCommand } from "./commands/run.js";
export { bootCommand } from "./commands/boot.js";
export { traceCommand } from "./commands/trace.js";
export {
  FLAT_MEMORY_MIB,
  HEAP_SHORT_NAMES,
  MACHINE_DEFAULTS,
  MEMORY_KINDS,
  heapSystemConfig,
  heapSystemSource,
  type HeapSystemFlags,
  type MemoryKind,
} from "./heap-system.js";
export { replayTraceFile, type TraceReplayFlags } from "./trace.js";
export {
  BOOT_ACCESSES,
  BOOT_DEFAULTS,
  BOOT_MODES,
  PMM_SHORT_NAMES,
  bootConfig,
  bootFromFlags,
  formatBootCommandReport,
  type BootCommandReport,
  type BootFlags,
  type BootHeapProbe,
  type BootOutcome,
  type BootRegion,
} from "./boot.js";
export { integerOption } from "./options.js";
export { CLI_PACKAGE_DIR, CLI_VERSION } from "./package-info.js";
export { SeededRandom } from "./random.js";
export {
  formatRunReport,
  runSystem,
  type InjectedBug,
  type RunOptions,
  type RunReport,
} from "./run.js";
export {
  DEFAULT_CONFIG_SOURCE,
  composeConfig,
  composeSystem,
  readConfigFile,
  summarizePlugins,
  type LoadedSystem,
  type PluginSummary,
} from "./system.js";
export { Workload, runWorkload, type WorkloadCounters, type WorkloadOptions } from "./workload.js";
