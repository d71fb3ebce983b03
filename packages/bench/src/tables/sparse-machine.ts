import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface SparseFigures {
  ramGiB: number;
  /** Host RSS of a fresh process after the machine wrote and read its last page of RAM. */
  hostRssBytes: number;
  /** The same process's RSS before it built the machine. */
  baselineRssBytes: number;
  touchedPages: number;
  lastPage: string;
}

/** Runs the 64 GiB check in a fresh process, so its RSS is not the bench's own. */
export function measureSparseMachine(ramGiB = 64): SparseFigures {
  const script = fileURLToPath(new URL("../sparse-machine-child.js", import.meta.url));
  const out = execFileSync(process.execPath, [script, String(ramGiB)], { encoding: "utf8" });
  return JSON.parse(out) as SparseFigures;
}
