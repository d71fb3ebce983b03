// `pnpm bench [options]`: runs `allockit bench`. A full run (no --quick, --from, --json or
// --markdown given) also writes docs/benchmarks.json and docs/benchmarks.md; a --quick run
// writes only what it is asked to, so it never replaces the published figures.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const chosen = ["--quick", "--from", "--json", "--markdown"].some((flag) =>
  args.some((arg) => arg === flag || arg.startsWith(`${flag}=`)),
);
const outputs = chosen
  ? []
  : ["--json", "docs/benchmarks.json", "--markdown", "docs/benchmarks.md"];
const result = spawnSync(
  process.execPath,
  ["packages/cli/dist/bin.js", "bench", ...args, ...outputs],
  { cwd: root, stdio: "inherit" },
);
process.exitCode = result.status ?? 1;
