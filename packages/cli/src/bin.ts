#!/usr/bin/env node
import { isAllocatorError } from "@allockit/core";
import { isMachineError } from "@allockit/x86-machine";
import { createProgram } from "./registry.js";

try {
  await createProgram().parseAsync(process.argv);
} catch (error) {
  // A bad config, plugin or pointer is the user's to fix: say what, not where in our code.
  if (!isAllocatorError(error) && !isMachineError(error)) throw error;
  process.stderr.write(`allockit: ${error.message}\n`);
  process.exitCode = 1;
}
