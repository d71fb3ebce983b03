import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
/** The built CLI (`npx tsc -b` first). */
export const builtBin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

export interface ProcessOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Written to the program's standard input (which is closed after it). */
  input?: string | Uint8Array;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs a program and collects its exit status and output (never rejects). */
export function runProcess(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        cwd: options.cwd ?? repoRoot,
        env: options.env ?? process.env,
        encoding: "utf8",
        maxBuffer: 64 << 20,
        timeout: options.timeoutMs ?? 120_000,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.input);
  });
}

/** Runs the built `allockit` with `args`, from the repository root unless told otherwise. */
export function allockitProcess(
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProcessOutcome> {
  return runProcess(process.execPath, [builtBin, ...args], options);
}

/** The environment of the test process without the variables that change suite run counts. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (extra.ALLOCKIT_FUZZ_RUNS === undefined) delete env.ALLOCKIT_FUZZ_RUNS;
  if (extra.ALLOCKIT_FUZZ_SEED === undefined) delete env.ALLOCKIT_FUZZ_SEED;
  return env;
}
