import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isAllocatorError, parseConfig } from "@allockit/core";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { bootConfig, type BootCommandReport } from "../src/boot.js";
import { createProgram } from "../src/registry.js";

const STAGES = [
  "firmware map",
  "boot allocator",
  "pmm",
  "kernel page tables",
  "paging on",
  "vmm",
  "kernel heap",
];
const KERNEL_IMAGE = { "32bit": "0xc0100000", pae: "0xc0100000", long: "0xffffffff80100000" };
const HEAP_REGION = { "32bit": "0xe0000000", pae: "0xe0000000", long: "0xffff900000000000" };

const scratch = mkdtempSync(join(tmpdir(), "allockit-boot-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs `allockit boot ...args` in this process and returns what it printed. */
async function boot(...args: string[]): Promise<string> {
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    return true;
  });
  try {
    await createProgram().parseAsync(["boot", ...args], { from: "user" });
  } finally {
    vi.restoreAllMocks();
  }
  return out;
}

async function bootJson(...args: string[]): Promise<BootCommandReport> {
  return JSON.parse(await boot(...args, "--json")) as BootCommandReport;
}

/** The stage lines of the text report: name and frames, in order. */
function stagesOf(text: string): Array<{ name: string; frames: number }> {
  return [...text.matchAll(/^\d+\. (.+) \((\d+) frames?, [\d.]+ ms\)$/gm)].map((m) => ({
    name: m[1]!,
    frames: Number(m[2]),
  }));
}

describe("allockit boot", () => {
  for (const mode of ["32bit", "pae", "long"] as const) {
    for (const access of ["direct-map", "recursive", "window"] as const) {
      it(`boots ${mode} paging with ${access} access`, async () => {
        const text = await boot("--mode", mode, "--access", access, "--ram", "64");
        const stages = stagesOf(text);
        expect(stages.map((s) => s.name)).toEqual(STAGES);
        expect(stages.find((s) => s.name === "kernel page tables")!.frames).toBeGreaterThan(0);
        expect(stages.find((s) => s.name === "pmm")!.frames).toBeGreaterThan(0);
        expect(text).toContain(`${mode} paging: top table at`);
        expect(text).toContain(KERNEL_IMAGE[mode]);
        expect(text).toContain("64 MiB usable");
        expect(text).toMatch(/booted in [\d.]+ ms; \d+ frames/);
        // The summary.
        expect(text).toMatch(/^pmm {6}pmm-stack: [\d,]+ of [\d,]+ frames free/m);
        expect(text).toContain(`x86-vmm, ${mode} paging, ${access} access: 1 space`);
        expect(text).toMatch(new RegExp(`^  ${HEAP_REGION[mode]} +1 MiB +heap +kernel heap$`, "m"));
        // The window's region spans its whole page table: 4 MiB in 32-bit paging, else 2 MiB.
        const windowSize = mode === "32bit" ? "4 MiB" : "2 MiB";
        expect(text).toMatch(
          new RegExp(`^ {2}0x[0-9a-f]+ +${windowSize} +fixed +page-table window$`, "m"),
        );
        if (access === "recursive") expect(text).toContain("recursive page tables");
        if (access === "direct-map") expect(text).toMatch(/fixed +direct map$/m);
        // The heap probe: its first pointer in the heap region, and faults that grew the heap.
        expect(text).toMatch(
          new RegExp(
            `first pointer ${HEAP_REGION[mode].slice(0, -3)}[0-9a-f]{3} \\(in the kernel heap region\\)`,
          ),
        );
        // The heap took pages from its region and frames from the PMM while they were live.
        const [, pages, frames] =
          /([\d,]+) pages from the kernel heap region at most, ([\d,]+) PMM frames/.exec(text)!;
        expect(Number(pages!.replace(/,/g, ""))).toBeGreaterThan(2);
        expect(Number(frames!.replace(/,/g, ""))).toBeGreaterThan(2);
        expect(text).toMatch(/heap growth faults: \d+/);
        expect(text).toContain("heap and vmm checks passed");
      });
    }
  }

  for (const pmm of ["bitmap", "buddy", "@allockit/pmm-stack"]) {
    it(`boots with --pmm ${pmm}`, async () => {
      const report = await bootJson("--pmm", pmm, "--ram", "64");
      const name = pmm.startsWith("@") ? "pmm-stack" : `pmm-${pmm}`;
      expect(report.pmm.name).toBe(name);
      expect(report.plugins[1]).toMatchObject({
        section: "pmm",
        specifier: pmm.startsWith("@") ? pmm : `@allockit/pmm-${pmm}`,
      });
      expect(report.stages.map((s) => s.name)).toEqual(STAGES);
      expect(report.stages[2]!.details[0]).toContain(name);
      // Boot took frames from the PMM: what it manages minus what is free.
      const pageTables = report.stages.find((s) => s.name === "kernel page tables")!.frames;
      expect(pageTables).toBeGreaterThan(0);
      expect(report.pmm.totalFrames - report.pmm.freeFrames).toBeGreaterThanOrEqual(pageTables);
      expect(report.pmm.metadataBytes).toBeGreaterThan(0);
      // The probe gave back everything it took.
      expect(report.heap.freeFramesAfter).toBeLessThanOrEqual(report.pmm.freeFrames);
      expect(report.vmm.mode).toBe("long");
    });
  }

  it("boots a firmware memory-map preset", async () => {
    const text = await boot("--preset", "qemu-i440fx-4g", "--mode", "pae");
    expect(stagesOf(text).map((s) => s.name)).toEqual(STAGES);
    expect(text).toContain("preset=qemu-i440fx-4g");
    // 3 GiB below the PCI hole and 1 GiB above 4 GiB (less a little the BIOS keeps).
    expect(text).toMatch(/8 entries, 4 GiB usable/);
    expect(text).toContain("normalised: usable 0x0..0x9fc00 aligned inward");
    expect(text).toContain("x86-vmm, pae paging, direct-map access");
    expect(text).toContain("0xc0100000");
    const report = await bootJson("--preset", "qemu-i440fx-4g", "--mode", "pae");
    expect(report.pmm.totalFrames).toBeGreaterThan(1_000_000);
    expect(report.pmm.zones.NORMAL.totalFrames).toBeGreaterThan(0);
  });

  it("prints JSON with stages, PMM and VMM stats and regions", async () => {
    const report = await bootJson("--ram", "64", "--mode", "long", "--access", "window");
    expect(report.config).toBe("command-line flags");
    expect(report.plugins.map((p) => p.section)).toEqual(["machine", "pmm", "vmm", "heap"]);
    expect(report.stages.map((s) => s.name)).toEqual(STAGES);
    const tables = report.stages.find((s) => s.name === "kernel page tables")!;
    expect(tables.frames).toBeGreaterThan(0);
    expect(report.bootFrames).toBe(report.stages.reduce((sum, s) => sum + s.frames, 0));
    expect(report.pmm).toMatchObject({ name: "pmm-stack" });
    expect(report.pmm.freeFrames + report.pmm.usedFrames).toBe(report.pmm.totalFrames);
    expect(report.vmm).toMatchObject({
      name: "x86-vmm",
      mode: "long",
      access: "window",
      spaces: 1,
      badFaults: 0,
    });
    expect(report.vmm.pageTablePages).toBeGreaterThan(0);
    const image = report.regions.find((r) => r.name.startsWith("kernel image"))!;
    expect(image).toMatchObject({
      address: "0xffffffff80100000",
      kind: "fixed",
      physical: 0x100000,
    });
    const heap = report.regions.find((r) => r.kind === "heap")!;
    expect(heap.address).toBe("0xffff900000000000");
    expect(report.heap.firstPointer).toBeGreaterThanOrEqual(heap.start);
    expect(report.heap.firstPointer).toBeLessThan(heap.start + heap.sizeBytes);
    expect(report.heap.insideKernelHeap).toBe(true);
    expect(report.heap.peakHeapPages).toBeGreaterThan(2);
    expect(report.heap.framesWhileLive).toBeGreaterThanOrEqual(report.heap.peakHeapPages);
    expect(report.heap.freeFramesAfter).toBe(report.pmm.freeFrames);
  });

  it("runs on several CPUs", async () => {
    const text = await boot("--ram", "64", "--cpus", "3");
    expect(text).toContain("on 3 CPUs");
  });

  it("starts from a --config file and lets flags override its sections", async () => {
    const file = join(scratch, "system.json");
    writeFileSync(
      file,
      JSON.stringify({
        machine: { plugin: "@allockit/x86-machine", options: { ramMiB: 48, cpus: 2 } },
        pmm: { plugin: "@allockit/pmm-bitmap" },
        vmm: {
          plugin: "@allockit/vmm",
          options: { mode: "pae", kernelHeapKiB: 2048, kernelHeapCommit: false },
        },
        heap: { plugin: "@allockit/core/list-heap" },
      }),
    );
    const asFiled = await bootJson("--config", file);
    expect(asFiled.config).toBe(file);
    expect(asFiled.pmm.name).toBe("pmm-bitmap");
    expect(asFiled.vmm).toMatchObject({ mode: "pae", access: "direct-map" });
    expect(asFiled.regions.find((r) => r.kind === "heap")!.sizeBytes).toBe(2 * 1024 * 1024);
    expect(asFiled.stages[0]!.details[0]).toContain("48 MiB usable");
    // A demand-paged kernel heap: its pages come in through page faults.
    expect(asFiled.heap.heapGrowthFaults).toBeGreaterThan(0);

    const overridden = await bootJson("--config", file, "--mode", "long", "--pmm", "buddy");
    expect(overridden.config).toBe(`${file} + flags`);
    expect(overridden.pmm.name).toBe("pmm-buddy");
    // The file's other VMM option stays; its machine section is untouched.
    expect(overridden.vmm.mode).toBe("long");
    expect(overridden.regions.find((r) => r.kind === "heap")!.sizeBytes).toBe(2 * 1024 * 1024);
    expect(overridden.heap.heapGrowthFaults).toBeGreaterThan(0);
    expect(overridden.stages[0]!.details[0]).toContain("48 MiB usable");
    expect(overridden.plugins[0]!.options).toMatchObject({ ramMiB: 48, cpus: 2 });
  });

  it("names a bad --mode, --access or --preset value", async () => {
    for (const [flag, value, allowed] of [
      ["--mode", "64bit", "32bit, pae, long"],
      ["--access", "identity", "direct-map, recursive, window"],
      ["--preset", "qemu-q35-1t", "qemu-i440fx-4g"],
    ] as const) {
      const failure = await boot(flag, value).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(isAllocatorError(failure)).toBe(true);
      expect((failure as Error).message).toContain(`EINVAL: ${flag} "${value}" is not one of`);
      expect((failure as Error).message).toContain(allowed);
    }
  });

  it("exits 1 with one line naming a bad value (the built binary)", async () => {
    const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
    const bin = join(repoRoot, "packages/cli/dist/bin.js");
    if (!existsSync(bin)) throw new Error(`${bin} is missing: build with \`npx tsc -b\` first`);
    const outcome = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          [bin, "boot", "--mode", "64bit"],
          { encoding: "utf8" },
          (error, stdout, stderr) => {
            resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
          },
        );
      },
    );
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toBe("");
    expect(outcome.stderr).toBe(
      'allockit: EINVAL: --mode "64bit" is not one of 32bit, pae, long\n',
    );
  });

  it("names an unknown --pmm package and both --ram and --preset", async () => {
    await expect(boot("--pmm", "no-such-pmm-plugin")).rejects.toThrow(
      /--pmm "no-such-pmm-plugin" is not stack, bitmap or buddy.*not found/,
    );
    await expect(boot("--ram", "64", "--preset", "qemu-q35-4g")).rejects.toThrow(
      /--ram 64 and --preset "qemu-q35-4g" both set the RAM/,
    );
  });
});

describe("bootConfig", () => {
  it("fills defaults: long mode, stack PMM, direct map, 256 MiB, ListHeap", () => {
    expect(bootConfig({})).toEqual({
      machine: { plugin: "@allockit/x86-machine", options: { ramMiB: 256 } },
      pmm: { plugin: "@allockit/pmm-stack", options: {} },
      vmm: { plugin: "@allockit/vmm", options: { mode: "long", access: "direct-map" } },
      heap: { plugin: "@allockit/core/list-heap", options: {} },
    });
  });

  it("replaces a file's RAM size by a preset and keeps its other machine options", () => {
    const file = parseConfig({
      machine: { plugin: "@allockit/x86-machine", options: { ramMiB: 32, maxPhysAddr: 36 } },
      heap: { plugin: "some-heap", options: { x: 1 } },
    });
    const config = bootConfig({ preset: "qemu-q35-4g", access: "recursive" }, file);
    expect(config.machine).toEqual({
      plugin: "@allockit/x86-machine",
      options: { maxPhysAddr: 36, preset: "qemu-q35-4g" },
    });
    expect(config.vmm!.options).toEqual({ mode: "long", access: "recursive" });
    expect(config.heap).toEqual({ plugin: "some-heap", options: { x: 1 } });
  });
});
