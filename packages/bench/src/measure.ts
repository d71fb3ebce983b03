/** Timing helpers: each figure is the median of several timed runs. */

export interface MeasureOptions {
  /** Timed runs; the median is reported. */
  runs: number;
  /** Operations per run. */
  operations: number;
}

/**
 * Operations per second of `body(operations)`, which must perform that many operations and
 * return a value (so the work cannot be optimised away). One untimed warm-up run first.
 */
export function opsPerSecond(
  body: (operations: number) => number,
  options: MeasureOptions,
): number {
  let sink = body(Math.min(options.operations, 100_000));
  const rates: number[] = [];
  for (let run = 0; run < options.runs; run++) {
    const start = process.hrtime.bigint();
    sink ^= body(options.operations);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push(options.operations / seconds);
  }
  if (sink === 0.5) console.log(""); // keeps `sink` observable
  return median(rates);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** 12345678 -> "12.3 M". */
export function formatRate(perSecond: number): string {
  if (perSecond >= 1e9) return `${(perSecond / 1e9).toFixed(2)} G`;
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k`;
  return perSecond.toFixed(0);
}

/** A plain text table with a header row. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
