import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ReportData } from "./data.js";
import { renderReport } from "./render.js";

/** Where `writeReport` put the files. */
export interface WrittenReport {
  html: string;
  json: string;
}

/** Writes `index.html` and `report.json` into `dir` (created if missing). */
export function writeReport(dir: string, data: ReportData): WrittenReport {
  mkdirSync(dir, { recursive: true });
  const html = join(dir, "index.html");
  const json = join(dir, "report.json");
  writeFileSync(html, renderReport(data));
  writeFileSync(json, JSON.stringify(data, null, 2) + "\n");
  return { html, json };
}
