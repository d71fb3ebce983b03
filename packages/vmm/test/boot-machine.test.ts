import { describe, expect, it } from "vitest";
import { ListHeap, MiB } from "@allockit/core";
import { BitmapPmm } from "@allockit/pmm-bitmap";
import { bootMachine } from "../src/index.js";

describe("bootMachine", () => {
  it("builds the machine and boots it with the PMM and an X86Vmm in the mode asked for", () => {
    const pmm = new BitmapPmm();
    const { machine, vmm, report } = bootMachine({
      ramBytes: 48 * MiB,
      cpus: 2,
      mode: "pae",
      access: "window",
      pmm,
    });
    expect(machine.cpus).toHaveLength(2);
    expect(vmm.mode).toBe("pae");
    expect(vmm.access).toBe("window");
    expect(vmm.pmm === pmm).toBe(true);
    expect(report.stages.map((stage) => stage.name)).toContain("pmm");
    for (const cpu of machine.cpus) expect(cpu.mode).toBe("pae");
    const heap = new ListHeap(vmm.kernelHeap);
    const ptr = heap.heap_alloc(5000);
    heap.memory.write32(ptr + 4996, 0xc0ffee);
    expect(machine.memory.read32(vmm.kernelSpace.translate(ptr + 4996))).toBe(0xc0ffee);
    heap.heap_free(ptr);
    heap.check();
    vmm.check();
  });
});
