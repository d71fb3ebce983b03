import { GiB, MiB, PAGE_SIZE } from "@allockit/core";
import { CR0_PG, CR0_WP } from "@allockit/x86-machine";
import { describe, expect, it } from "vitest";
import { ACCESSES, MODES, PMMS, bootTestSystem, type PmmName, type TestSystem } from "./system.js";

const STAGES = [
  "firmware map",
  "boot allocator",
  "pmm",
  "kernel page tables",
  "paging on",
  "vmm",
  "kernel heap",
];

/** What every booted system must show. */
function expectBooted(system: TestSystem): void {
  const { machine, pmm, vmm, report } = system;
  expect(report.stages.map((s) => s.name)).toEqual(STAGES);
  const root = vmm.kernelSpace.root;
  for (const cpu of machine.cpus) {
    expect(cpu.mode).toBe(vmm.mode);
    expect(cpu.cr3).toBe(root);
    expect((cpu.cr0 & CR0_PG) !== 0 && (cpu.cr0 & CR0_WP) !== 0).toBe(true);
  }
  // The page tables came from the PMM, and the report says how many.
  const tablesStage = report.stages.find((s) => s.name === "kernel page tables")!;
  expect(tablesStage.frames).toBeGreaterThan(0);
  expect(pmm.stats().usedFrames).toBeGreaterThanOrEqual(tablesStage.frames);

  // The kernel image is mapped in the higher half at imageBase + physical.
  const cpu = machine.cpu;
  const layout = vmm.layout;
  machine.memory.write32(MiB + 0x40, 0x600dcafe);
  expect(cpu.read32(layout.imageBase + MiB + 0x40)).toBe(0x600dcafe);
  // So is the PMM's metadata (boot allocations): its contents read the same both ways.
  for (const range of report.bootAllocator.allocated()) {
    expect(cpu.read32(layout.imageBase + range.base)).toBe(machine.memory.read32(range.base));
  }
  const names = vmm.kernelSpace.regions().map((r) => r.name);
  expect(names).toContain("kernel heap");
  expect(names).toContain("page-table window");
  if (vmm.access === "recursive") expect(names).toContain("recursive page tables");
  if (vmm.access === "direct-map") expect(names).toContain("direct map");

  // The kernel heap can grow on demand: pages come from the PMM when first touched.
  const heap = vmm.kernelHeap;
  const free = pmm.stats().freeFrames;
  const pages = heap.allocPages(3, { commit: false });
  expect(pages).not.toBe(0);
  expect(pmm.stats().freeFrames).toBe(free);
  for (let i = 0; i < 3; i++) {
    expect(cpu.read32(pages + i * PAGE_SIZE)).toBe(0);
    cpu.write32(pages + i * PAGE_SIZE + 8, 0xa5a50000 + i);
  }
  for (let i = 0; i < 3; i++) expect(cpu.read32(pages + i * PAGE_SIZE + 8)).toBe(0xa5a50000 + i);
  expect(vmm.stats().heapGrowthFaults).toBeGreaterThanOrEqual(3);
  expect(pmm.stats().freeFrames).toBeLessThan(free);
  vmm.check();
  heap.freePages(pages, 3);
  expect(pmm.stats().freeFrames).toBe(free);
  vmm.check();
  pmm.check();
}

describe("boot: every mode x PMM x access strategy", () => {
  for (const mode of MODES) {
    for (const pmm of Object.keys(PMMS) as PmmName[]) {
      for (const access of ACCESSES) {
        it(`${mode}, ${pmm}, ${access} (32 MiB, 2 CPUs)`, () => {
          expectBooted(bootTestSystem({ mode, pmm, access }));
        });
      }
    }
  }
});

describe("boot: large machines", () => {
  for (const pmm of Object.keys(PMMS) as PmmName[]) {
    for (const access of ACCESSES) {
      it(`PAE on a 4 GiB machine (QEMU i440fx map), ${pmm}, ${access}: RAM above 4 GiB is mapped`, () => {
        const system = bootTestSystem({ mode: "pae", pmm, access, preset: "qemu-i440fx-4g" });
        expectBooted(system);
        // The i440fx map puts 1 GiB of the 4 above 4 GiB; PAE reaches it.
        const high = 4 * GiB + 16 * MiB;
        system.machine.memory.write32(high + 12, 0x4a4a4a4a);
        const at = system.vmm.kernelSpace.map({
          kind: "fixed",
          sizeBytes: PAGE_SIZE,
          physical: high,
        });
        expect(at).not.toBe(0);
        expect(system.machine.cpu.read32(at + 12)).toBe(0x4a4a4a4a);
        expect(system.vmm.kernelSpace.translate(at + 12)).toBe(high + 12);
      });

      it(`long mode on a 64 GiB machine (QEMU q35 map), ${pmm}, ${access}`, () => {
        const system = bootTestSystem({ mode: "long", pmm, access, preset: "qemu-q35-64g" });
        expectBooted(system);
        const far = 60 * GiB + 5 * PAGE_SIZE;
        system.machine.memory.write32(far, 0x64646464);
        if (access === "direct-map") {
          // The direct map covers all 64 GiB.
          expect(system.machine.cpu.read32(system.vmm.layout.directMapBase + far)).toBe(0x64646464);
        }
        const at = system.vmm.kernelSpace.map({
          kind: "fixed",
          sizeBytes: PAGE_SIZE,
          physical: far,
        });
        expect(system.machine.cpu.read32(at)).toBe(0x64646464);
        // Booting touched only a sliver of the 64 GiB.
        expect(system.machine.memory.touchedPages * PAGE_SIZE).toBeLessThan(64 * MiB);
      });
    }
  }

  for (const pmm of Object.keys(PMMS) as PmmName[]) {
    it(`32-bit paging on a machine with RAM above 4 GiB keeps to the first 4 GiB (${pmm})`, () => {
      const system = bootTestSystem({ mode: "32bit", pmm, preset: "qemu-i440fx-8g" });
      expectBooted(system);
      const space = system.vmm.createSpace();
      const start = space.map({ kind: "anonymous", sizeBytes: 64 * PAGE_SIZE, commit: true });
      expect(start).not.toBe(0);
      for (let va = start; va < start + 64 * PAGE_SIZE; va += PAGE_SIZE) {
        const pa = space.translate(va);
        expect(pa > 0 && pa < 4 * GiB).toBe(true);
      }
      system.vmm.check();
    });
  }
});
