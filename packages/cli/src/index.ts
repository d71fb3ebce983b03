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
export { conformanceCommand } from "./commands/conformance.js";
export { newPluginCommand } from "./commands/new-plugin.js";
export {
  CONFORMANCE_KINDS,
  NoConformanceSuite,
  runPluginConformance,
  type CheckStatus,
  type ConformanceCheckResult,
  type ConformanceFlags,
  type ConformanceKind,
  type ConformanceReport,
} from "./conformance-run.js";
export { formatConformanceReport } from "./conformance-report.js";
export { escapeXml, formatJunit } from "./junit.js";
export {
  ProgressBar,
  colourEnabled,
  createStyle,
  formatProgressBar,
  type OutputStream,
  type Style,
} from "./progress.js";
export {
  SCAFFOLD_KINDS,
  checkPackageName,
  pluginClassName,
  scaffoldPlugin,
  type ScaffoldKind,
  type ScaffoldOptions,
  type ScaffoldResult,
} from "./scaffold.js";
export { memmapCommand } from "./commands/memmap.js";
export { reportCommand } from "./commands/report.js";
export { configSchemaText } from "./commands/schema.js";
export { FIRST_PARTY_PLUGINS, loadFirstPartyPlugins } from "./first-party.js";
export {
  MEMMAP_FORMATS,
  detectMemmapFormat,
  formatMemmapReport,
  memmapReport,
  parseMemmap,
  type MemmapFormat,
  type MemmapReport,
} from "./memmap.js";
export {
  SystemWorkload,
  type SystemEventCounters,
  type SystemUnderLoad,
  type SystemWorkloadOptions,
} from "./system-workload.js";
export type { MachineSummary } from "./run.js";
