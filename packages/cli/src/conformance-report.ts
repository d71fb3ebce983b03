import type { ConformanceCheckResult, ConformanceReport } from "./conformance-run.js";
import { createStyle, type Style } from "./progress.js";

const STATUS_LABELS = { passed: "PASS", failed: "FAIL", skipped: "SKIP" } as const;

function seconds(value: number): string {
  return `${value.toFixed(2)} s`;
}

function formatOptions(options: unknown): string {
  if (typeof options !== "object" || options === null) return JSON.stringify(options);
  const entries = Object.entries(options as Record<string, unknown>);
  if (entries.length === 0) return "(none)";
  return entries.map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(" ");
}

function statusLabel(result: ConformanceCheckResult, style: Style): string {
  const label = STATUS_LABELS[result.status];
  if (result.status === "passed") return style.green(label);
  if (result.status === "failed") return style.bold(style.red(label));
  return style.yellow(label);
}

/** Indents every line of a (possibly long, multi-line) message under its check. */
function indent(message: string, prefix: string): string {
  return message
    .trimEnd()
    .split("\n")
    .map((line) => `${prefix}${line}`)
    .join("\n");
}

/**
 * The readable report of `allockit conformance`: the plugin, each check with PASS / FAIL / SKIP,
 * what it did and how long it took, the violation under a failed check, and a closing line.
 * `style` decides colour (by default: stdout's, off for NO_COLOR and non-terminals).
 */
export function formatConformanceReport(
  report: ConformanceReport,
  style: Style = createStyle(),
): string {
  const lines: string[] = [];
  lines.push(
    style.bold(`allockit conformance: ${report.plugin}`) +
      ` (${report.kind} plugin, from ${report.specifier})`,
  );
  if (report.description !== undefined) lines.push(`  ${report.description}`);
  lines.push(`  options  ${formatOptions(report.options)}`);
  if (report.memory !== undefined) {
    lines.push(
      `  memory   ${report.memory === "flat" ? "flat (a fresh FlatPageSource per heap)" : "machine (a fresh kernel heap region per heap; long mode, buddy PMM)"}`,
    );
  }
  lines.push(
    `  runs     ${report.numRuns.toLocaleString("en-US")} random sequences, seed ${report.seed}`,
  );
  lines.push("");
  const nameWidth = Math.max(...report.checks.map((c) => c.name.length));
  for (const check of report.checks) {
    const detail = check.status === "passed" ? check.summary : "";
    lines.push(
      `  ${statusLabel(check, style)}  ${check.name.padEnd(nameWidth)}  ${style.dim(seconds(check.seconds).padStart(9))}  ${detail}`.trimEnd(),
    );
    if (check.message !== undefined) {
      lines.push(
        indent(check.message, check.status === "failed" ? "        " : "        skipped: "),
      );
    }
  }
  lines.push("");
  const verdict = report.ok ? style.green("passed") : style.bold(style.red("FAILED"));
  lines.push(
    `${report.checks.length} checks: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped in ${seconds(report.seconds)}: ${verdict}`,
  );
  if (!report.ok) {
    lines.push(
      `rerun with the same seed: allockit conformance ${report.specifier} --seed ${report.seed} --runs ${report.numRuns}`,
    );
  }
  return lines.join("\n") + "\n";
}
