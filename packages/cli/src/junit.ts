import type { ConformanceReport } from "./conformance-run.js";

// XML 1.0 allows tab, newline, carriage return and everything from U+0020 on (minus the
// surrogates and U+FFFE / U+FFFF); anything else in a message would make the file unreadable.
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Escapes text for an XML attribute or element, dropping characters XML cannot hold. */
export function escapeXml(text: string): string {
  return text
    .replace(NOT_XML, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function attributes(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([key, value]) => ` ${key}="${escapeXml(String(value))}"`)
    .join("");
}

const time = (seconds: number): string => seconds.toFixed(3);

/**
 * A conformance report as JUnit XML, the format CI systems read: one `testsuite` for the
 * plugin's suite, one `testcase` per check, a `failure` element (message and full text) for a
 * failed check and a `skipped` element for a skipped one. The seed and run count are
 * properties of the suite, so a failure in CI can be replayed.
 */
export function formatJunit(report: ConformanceReport, timestamp = new Date()): string {
  const suiteName = `${report.plugin} ${report.kind} conformance`;
  const classname = `allockit.conformance.${report.kind}.${report.plugin}`;
  const counts = {
    tests: report.checks.length,
    failures: report.failed,
    errors: 0,
    skipped: report.skipped,
    time: time(report.seconds),
  };
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attributes({ name: "allockit conformance", ...counts })}>`,
    `  <testsuite${attributes({ name: suiteName, ...counts, timestamp: timestamp.toISOString().replace(/\.\d+Z$/, "") })}>`,
    "    <properties>",
  ];
  const properties: Record<string, string | number> = {
    plugin: report.plugin,
    specifier: report.specifier,
    kind: report.kind,
    numRuns: report.numRuns,
    seed: report.seed,
    options: JSON.stringify(report.options),
  };
  if (report.memory !== undefined) properties.memory = report.memory;
  for (const [name, value] of Object.entries(properties)) {
    lines.push(`      <property${attributes({ name, value })}/>`);
  }
  lines.push("    </properties>");
  for (const check of report.checks) {
    const open = `    <testcase${attributes({ classname, name: check.name, time: time(check.seconds) })}`;
    if (check.status === "passed") {
      lines.push(`${open}/>`);
      continue;
    }
    lines.push(`${open}>`);
    const message = check.message ?? "";
    if (check.status === "failed") {
      const firstLine = message.split("\n", 1)[0] ?? "";
      const type = /^\[[a-z0-9-]+\]/.test(message) ? "ConformanceViolation" : "Error";
      lines.push(
        `      <failure${attributes({ message: firstLine, type })}>${escapeXml(message)}</failure>`,
      );
    } else {
      lines.push(`      <skipped${attributes({ message })}/>`);
    }
    lines.push("    </testcase>");
  }
  lines.push("  </testsuite>", "</testsuites>");
  return lines.join("\n") + "\n";
}
