import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

// Both src/ and dist/ sit one level below the package root, so this works from either.
const packageRootUrl = new URL("..", import.meta.url);

/** The cli package's own directory: plugins it depends on resolve from here, whatever the cwd. */
export const CLI_PACKAGE_DIR = fileURLToPath(packageRootUrl);

/** The cli package's version, from its package.json. */
export const CLI_VERSION: string = (
  JSON.parse(readFileSync(new URL("package.json", packageRootUrl), "utf8")) as { version: string }
).version;
