import { GUARD_VIOLATION_KINDS } from "@allockit/heap-guard";
import { describe, expect, it } from "vitest";
import type { RunReport } from "../src/run.js";
import { allockitProcess as allockit } from "./cli-process.js";

describe("allockit run --heap heap-guard --inject KIND", () => {
  for (const kind of GUARD_VIOLATION_KINDS) {
    it(`prints the report of an injected ${kind}, after a workload on the machine`, async () => {
      const outcome = await allockit([
        "run",
        "--heap",
        "heap-guard",
        "--inject",
        kind,
        "--ops",
        "300",
      ]);
      expect(outcome.stderr).toBe("");
      expect(outcome.code).toBe(0);
      expect(outcome.stdout).toMatch(/^ {2}vmm +@allockit\/vmm /m);
      expect(outcome.stdout).toContain(`injected ${kind}: caught as ${kind}\n`);
      expect(outcome.stdout).toMatch(/^BUG: heap-guard: .*"inject /m);
      expect(outcome.stdout).toMatch(/allocated as #\d+/);
    });
  }

  it("puts the bug and its report in the JSON, and a sampling heap's guard catches it too", async () => {
    const outcome = await allockit([
      "run",
      "--heap",
      "heap-guard",
      "--inject",
      "use-after-free-write",
      "--ops",
      "300",
      "--json",
    ]);
    expect(outcome.code).toBe(0);
    const report = JSON.parse(outcome.stdout) as RunReport;
    expect(report.injected).toMatchObject({
      kind: "use-after-free-write",
      caughtAs: "use-after-free-write",
    });
    expect(report.injected!.report).toMatch(/use-after-free write/);
    expect(report.footprintBytes).toBeGreaterThan(0);
  });

  it("refuses an unknown kind, and a heap that is not a guard heap", async () => {
    const unknown = await allockit(["run", "--heap", "heap-guard", "--inject", "stack-smash"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/stack-smash/);
    expect(unknown.stderr).toMatch(/overflow, underflow/);
    const slab = await allockit([
      "run",
      "--heap",
      "heap-slab",
      "--inject",
      "overflow",
      "--ops",
      "10",
    ]);
    expect(slab.code).toBe(1);
    expect(slab.stderr).toMatch(/EINVAL: injectBug: heap "heap-slab" is not a guard heap/);
  });
});
