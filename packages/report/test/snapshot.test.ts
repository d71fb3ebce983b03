import { describe, expect, it } from "vitest";
import { PAGE_SIZE, type ComposedSystem } from "@allockit/core";
import type { X86Vmm } from "@allockit/vmm";
import { countOwners, ownerId, ownerOfFrame, snapshotSystem, type FrameMap } from "../src/index.js";
import { bootFlat, bootMachine, churn } from "./helpers.js";

function count(map: FrameMap, key: Parameters<typeof ownerId>[0]): number {
  return map.counts[ownerId(key)]!;
}

/** A user space with a touched stack, a written anonymous region and one that was only read. */
function addUserSpace(system: ComposedSystem): void {
  const vmm = system.vmm as X86Vmm;
  const space = vmm.createSpace();
  const rw = { write: true, user: true, execute: false };
  const stack = space.map({ kind: "stack", sizeBytes: 8 * PAGE_SIZE, protection: rw });
  const data = space.map({ kind: "anonymous", sizeBytes: 16 * PAGE_SIZE, protection: rw });
  const cpu = vmm.machine.cpus[0]!;
  const kernel = vmm.current(0);
  space.activate(0);
  for (let i = 0; i < 3; i++) cpu.write32(stack + i * PAGE_SIZE, i + 1);
  for (let i = 0; i < 5; i++) cpu.write32(data + i * PAGE_SIZE, i + 1);
  for (let i = 8; i < 12; i++) cpu.read32(data + i * PAGE_SIZE); // zero page
  kernel.activate(0);
}

const SETUPS = [
  { pmm: "buddy", mode: "long", access: "direct-map" },
  { pmm: "buddy", mode: "pae", access: "recursive" },
  { pmm: "stack", mode: "32bit", access: "window" },
  { pmm: "bitmap", mode: "long", access: "recursive" },
  { pmm: "bitmap", mode: "pae", access: "window" },
  { pmm: "stack", mode: "32bit", access: "recursive", preset: "qemu-i440fx-128m" },
] as const;

describe("snapshotSystem", () => {
  for (const setup of SETUPS) {
    it(`attributes every frame (${setup.pmm}, ${setup.mode}, ${setup.access}${"preset" in setup ? `, ${setup.preset}` : ""})`, async () => {
      const system = await bootMachine(setup);
      churn(system, 3000);
      addUserSpace(system);
      const vmm = system.vmm as X86Vmm;
      const pmmStats = system.pmm!.stats();
      const vmmStats = vmm.stats();
      const snapshot = snapshotSystem(system);
      const map = snapshot.frameMap!;

      // Owners add up to every frame of the firmware map's range.
      expect(map.counts.reduce((a, b) => a + b, 0)).toBe(map.endFrame - map.firstFrame);
      const runs = map.runs;
      let covered = map.firstFrame;
      for (let i = 0; i < runs.length; i += 3) {
        expect(runs[i]).toBe(covered);
        covered += runs[i + 1]!;
      }
      expect(covered).toBe(map.endFrame);

      expect(count(map, "page-tables")).toBe(vmmStats.pageTablePages);
      expect(snapshot.walked.pageTables).toBe(vmmStats.pageTablePages);
      const kernelHeap = vmm.kernelSpace
        .regions()
        .filter((r) => r.kind === "heap")
        .reduce((sum, r) => sum + r.committedPages, 0);
      expect(kernelHeap).toBeGreaterThan(0);
      expect(count(map, "heap")).toBe(kernelHeap);
      const user = vmm
        .spaces()
        .filter((s) => !s.kernel)
        .flatMap((s) => s.regions())
        .reduce((sum, r) => sum + r.committedPages, 0);
      expect(user).toBe(8);
      expect(count(map, "user")).toBe(user);
      expect(count(map, "zero-page")).toBe(1);
      expect(ownerOfFrame(map, vmm.zeroPage / PAGE_SIZE)).toBe(ownerId("zero-page"));
      expect(map.exactFree).toBe(true);
      expect(count(map, "free")).toBe(pmmStats.freeFrames);
      // Every frame the PMM hands out is one of these; here nothing else holds frames.
      expect(count(map, "other")).toBe(0);
      const metadataFrames = system
        .report!.bootAllocator.allocated()
        .reduce((sum, r) => sum + r.length / PAGE_SIZE, 0);
      expect(count(map, "pmm-metadata")).toBe(metadataFrames);
      expect(count(map, "kernel-image")).toBe(system.report!.kernelImage.length / PAGE_SIZE);
      expect(ownerOfFrame(map, 0)).toBe(ownerId("reserved"));

      // The layouts: the region tables' committed pages match the VMM's own count.
      const spaces = vmm.spaces();
      expect(snapshot.spaces.map((s) => s.id).sort()).toEqual(spaces.map((s) => s.id).sort());
      for (const space of spaces) {
        const shown = snapshot.spaces.find((s) => s.id === space.id)!;
        expect(shown.regions.map((r) => [r.start, r.committedPages])).toEqual(
          space.regions().map((r) => [r.start, r.committedPages]),
        );
      }
      const stack = snapshot.spaces.flatMap((s) => s.regions).find((r) => r.kind === "stack")!;
      expect(stack.guardBytes).toBe(PAGE_SIZE);
      expect(
        snapshot.spaces.flatMap((s) => s.regions).find((r) => r.zeroPages > 0)!.zeroPages,
      ).toBe(4);
    });
  }

  it("counts holes and reserved ranges of a real firmware map", async () => {
    const system = await bootMachine({ preset: "qemu-i440fx-128m", pmm: "buddy" });
    const map = snapshotSystem(system).frameMap!;
    // 0x9fc00 .. 0xa0000 reserved, then a hole up to the BIOS area at 0xf0000.
    expect(ownerOfFrame(map, 0x9f)).toBe(ownerId("reserved"));
    expect(ownerOfFrame(map, 0xa0)).toBe(ownerId("hole"));
    expect(ownerOfFrame(map, 0xf0)).toBe(ownerId("reserved"));
    expect(map.endFrame).toBe(2 ** 32 / PAGE_SIZE);
    const low = countOwners(map, 0, 0x100);
    expect(low[ownerId("hole")]).toBe(0xf0 - 0xa0);
  });

  it("does not move the TLB counters or the VMM's", async () => {
    const system = await bootMachine({ mode: "pae", access: "window" });
    churn(system, 500);
    const vmm = system.vmm as X86Vmm;
    const before = [vmm.machine.cpus[0]!.counters(), vmm.stats()];
    snapshotSystem(system);
    expect([vmm.machine.cpus[0]!.counters(), vmm.stats()]).toEqual(before);
  });

  it("keeps a large machine's map small and quick", async () => {
    const system = await bootMachine({ ramMiB: 512, pmm: "buddy" });
    churn(system, 2000);
    const snapshot = snapshotSystem(system);
    const map = snapshot.frameMap!;
    expect(map.endFrame - map.firstFrame).toBe(131072);
    expect(map.runs.length).toBeLessThan(3 * 2000);
  });

  it("has no frame map and no spaces on flat memory", async () => {
    const snapshot = snapshotSystem(await bootFlat());
    expect(snapshot.frameMap).toBeNull();
    expect(snapshot.spaces).toEqual([]);
  });
});
