import { compose, isAllocatorError, manifestProblems } from "@allockit/core";
import { describe, expect, it } from "vitest";
import plugin, { X86Vmm } from "../src/index.js";

const config = (vmmOptions: Record<string, unknown>) => ({
  machine: { plugin: "@allockit/x86-machine", options: { ramMiB: 64, cpus: 2 } },
  pmm: { plugin: "@allockit/pmm-bitmap" },
  vmm: { plugin: "@allockit/vmm", options: vmmOptions },
  heap: { plugin: "@allockit/core/list-heap" },
});

describe("@allockit/vmm plugin", () => {
  it("is a valid vmm manifest", () => {
    expect(manifestProblems(plugin)).toEqual([]);
    expect(plugin.kind).toBe("vmm");
  });

  it("a config with a machine, a PMM and the VMM boots, and the heap lives in the kernel heap region", async () => {
    const system = await compose(config({ mode: "pae", access: "recursive" }));
    const vmm = system.vmm as X86Vmm;
    expect(vmm.name).toBe("x86-vmm"); // the plugin loads the built package, not these sources
    expect(system.report?.stages.map((s) => s.name)).toContain("kernel heap");
    const p = system.heap.heap_alloc(100, 16);
    const region = vmm.kernelSpace.regionAt(p);
    expect(region?.name).toBe("kernel heap");
    system.memory.write32(p, 0xabcdef01);
    expect(system.memory.read32(p)).toBe(0xabcdef01);
    expect(vmm.stats().framesHeld).toBeGreaterThan(0);
    system.heap.heap_free(p);
    system.heap.check();
    vmm.check();
  });

  it("bad options name the field and the value", async () => {
    let error: unknown;
    try {
      await compose(config({ mode: "real" }));
    } catch (e) {
      error = e;
    }
    expect(isAllocatorError(error) && /vmm\.options\.mode/.test(error.message)).toBe(true);
    expect(String(error)).toMatch(/real/);
  });

  it("a VMM without a PMM is a config error", async () => {
    const { pmm: _pmm, ...noPmm } = config({});
    await expect(compose(noPmm)).rejects.toThrow(/VMM needs a PMM/);
  });
});
