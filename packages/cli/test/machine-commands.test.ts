import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The built CLI, run as a user would (npx tsc -b first).
const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const example = "packages/x86-machine/examples/kernel-higher-half.json";
const scratch = mkdtempSync(join(tmpdir(), "allockit-machine-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function allockit(
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["packages/cli/dist/bin.js", ...args],
      { cwd: repoRoot, encoding: "utf8" },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
          stdout,
          stderr,
        });
      },
    );
  });
}

describe("allockit scenario", () => {
  it("prints one JSON result per step in the documented shapes", async () => {
    const outcome = await allockit(["scenario", example]);
    expect(outcome.code).toBe(0);
    const expected = (
      JSON.parse(readFileSync(join(repoRoot, example), "utf8")) as { expect: unknown[] }
    ).expect;
    expect(JSON.parse(outcome.stdout)).toEqual({ steps: expected });
  });

  it("--explain adds the rule behind each fault", async () => {
    const outcome = await allockit(["scenario", example, "--explain"]);
    const steps = (JSON.parse(outcome.stdout) as { steps: Array<{ reason?: string }> }).steps;
    expect(steps[1]!.reason).toMatch(/execute-disable/);
    expect(steps[3]!.reason).toMatch(/read-only/);
  });

  it("--check passes on a scenario whose expectations hold and exits 1 naming the step otherwise", async () => {
    expect((await allockit(["scenario", example, "--check"])).code).toBe(0);
    const scenario = JSON.parse(readFileSync(join(repoRoot, example), "utf8")) as {
      expect: Array<Record<string, unknown>>;
    };
    scenario.expect[0] = { pa: "0x201235" };
    const file = join(scratch, "wrong.json");
    writeFileSync(file, JSON.stringify(scenario));
    const outcome = await allockit(["scenario", file, "--check"]);
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toContain(
      'step 0 (access): expected {"pa":"0x201235"}, got {"pa":"0x201234"}',
    );
  });

  it("a malformed scenario names the field", async () => {
    const file = join(scratch, "bad.json");
    writeFileSync(
      file,
      JSON.stringify({
        mode: "long",
        cr3: "0x1000",
        steps: [{ op: "access", va: "0x1000", kind: "peek" }],
      }),
    );
    const outcome = await allockit(["scenario", file]);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain("steps.0.kind");
  });
});

describe("allockit walk", () => {
  it("explains each level and the physical address, from a scenario", async () => {
    const outcome = await allockit(["walk", "--scenario", example, "--va", "0xffffffff80001234"]);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain("PML4E[511]");
    expect(outcome.stdout).toContain(
      "PDE[0]                 @ 0x5000         = 0x8000000000200083  P RW PS XD",
    );
    expect(outcome.stdout).toContain("-> physical 0x201234 (2 MiB page)");
  });

  it("names the exact fault and rule, and exits 2", async () => {
    const outcome = await allockit([
      "walk",
      "--scenario",
      example,
      "--va",
      "0x400010",
      "--access",
      "write",
      "--cpl",
      "3",
    ]);
    expect(outcome.code).toBe(2);
    expect(outcome.stdout).toContain("#PF error code 0x7: user-mode write to a read-only page");
  });

  it("walks a raw physical memory dump at a base address", async () => {
    // A 32-bit paging dump of 64 KiB at 0x100000: PD at 0x100000, PT at 0x101000,
    // linear 0xc0000000 -> PDE[768] -> PTE[5] -> frame 0x10a000.
    const dump = new Uint8Array(0x10000);
    const view = new DataView(dump.buffer);
    view.setUint32(768 * 4, 0x101003, true);
    view.setUint32(0x1000 + 5 * 4, 0x10a003, true);
    const file = join(scratch, "pmem.bin");
    writeFileSync(file, dump);
    const args = [
      "walk",
      "--dump",
      file,
      "--base",
      "0x100000",
      "--mode",
      "32bit",
      "--cr3",
      "0x100000",
    ];
    const hit = await allockit([...args, "--va", "0xc0005abc"]);
    expect(hit.code).toBe(0);
    expect(hit.stdout).toContain("PDE[768]");
    expect(hit.stdout).toContain("-> physical 0x10aabc (4 KiB page)");
    view.setUint32(769 * 4, 0x800003, true); // a page table outside the dump
    writeFileSync(file, dump);
    const outside = await allockit([...args, "--va", "0xc0400000"]);
    expect(outside.code).toBe(2);
    expect(outside.stdout).toMatch(/bus error: 4-byte access at physical 0x800000 is in a hole/);
  });

  it("prints the trace as JSON with --json", async () => {
    const outcome = await allockit([
      "walk",
      "--scenario",
      example,
      "--va",
      "0xffffffff80001234",
      "--json",
    ]);
    const trace = JSON.parse(outcome.stdout) as {
      ok: boolean;
      physical: number;
      levels: unknown[];
    };
    expect(trace).toMatchObject({ ok: true, physical: 0x201234 });
    expect(trace.levels).toHaveLength(3);
  });
});
