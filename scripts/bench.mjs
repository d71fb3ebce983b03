// `pnpm bench [options]`: runs `allockit bench`. A full run (no --quick, --from, --json or
// --markdown given) also writes docs/benchmarks.json and docs/benchmarks.md; a --quick run
// writes only what it is asked to, so it never replaces the published figures.
import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The `allockit bench` arguments `pnpm bench` passes for the arguments it was given. */
export function benchArguments(args) {
  const chosen = ["--quick", "--from", "--json", "--markdown"].some((flag) =>
    args.some((arg) => arg === flag || arg.startsWith(`${flag}=`)),
  );
  const outputs = chosen
    ? []
    : ["--json", "docs/benchmarks.json", "--markdown", "docs/benchmarks.md"];
  return ["bench", ...args, ...outputs];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const result = spawnSync(
    process.execPath,
    ["packages/cli/dist/bin.js", ...benchArguments(process.argv.slice(2))],
    { cwd: root, stdio: "inherit" },
  );
  process.exitCode = result.status ?? 1;
}
