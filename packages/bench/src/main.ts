import { writeFileSync } from "node:fs";
import { formatBench, runBench } from "./run.js";

// pnpm bench [--quick] [--json FILE]
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const jsonAt = args.indexOf("--json");
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
if (jsonAt >= 0 && jsonFile === undefined) {
  process.stderr.write("bench: --json needs a file name\n");
  process.exit(2);
}
const results = runBench({ quick }, (line) => process.stderr.write(line + "\n"));
process.stdout.write(formatBench(results));
if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify(results, null, 2) + "\n");
