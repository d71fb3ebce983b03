import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository root: the built CLI runs from there, as `pnpm allockit` does. */
export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (`npx tsc -b` first) with `args` from the repository root. */
export function allockit(args: readonly string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["packages/cli/dist/bin.js", ...args],
      { cwd: repoRoot, encoding: "utf8", maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
