import {
  GiB,
  ListHeap,
  MiB,
  PAGE_SIZE,
  isAccessFault,
  isAllocatorError,
  type AccessFault,
} from "@allockit/core";
import { describe, expect, it } from "vitest";
import { X86Vmm } from "../src/index.js";
import { ACCESSES, KERNEL_RW, MODES, USER_RO, USER_RW, bootTestSystem } from "./system.js";

/** The AccessFault `run` raises (fails the test if it raises something else or nothing). */
function faultOf(run: () => unknown): AccessFault {
  try {
    run();
  } catch (error) {
    if (isAccessFault(error)) return error;
    throw error;
  }
  throw new Error("expected an AccessFault, but the access succeeded");
}

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isAllocatorError(error)) return error.code;
    throw error;
  }
  return "none";
}

for (const mode of MODES) {
  for (const access of ACCESSES) {
    describe(`x86 vmm, ${mode}, ${access}`, () => {
      it("demand-zero: a read maps the shared zero page read-only, the first write a private frame", () => {
        const { machine, vmm } = bootTestSystem({ mode, access });
        const space = vmm.createSpace();
        space.activate(0);
        const cpu = machine.cpu;
        const at = space.map({ kind: "anonymous", sizeBytes: 4 * PAGE_SIZE, protection: USER_RW });
        cpu.setCpl(3);
        expect(cpu.read32(at + 100)).toBe(0);
        expect(space.translate(at)).toBe(vmm.zeroPage);
        expect(vmm.stats().framesHeld).toBe(0); // page tables, but no data frame yet
        cpu.write32(at + 100, 77);
        cpu.setCpl(0);
        const frame = space.translate(at);
        expect(frame !== vmm.zeroPage && frame > 0).toBe(true);
        expect(cpu.read32(at + 100)).toBe(77);
        expect(vmm.stats().copyOnWriteFaults).toBe(1);
        expect(space.regions()[0]!.committedPages).toBe(1);
        vmm.check();
      });

      it("faults it cannot resolve become reports: no region, guard page, supervisor page, read-only", () => {
        const { machine, vmm } = bootTestSystem({ mode, access });
        const space = vmm.createSpace();
        space.activate(1);
        const cpu = machine.cpus[1]!;
        const stack = space.map({ kind: "stack", sizeBytes: 2 * PAGE_SIZE, protection: USER_RW });
        const region = space.regionAt(stack)!;
        expect(region.guardBytes).toBe(PAGE_SIZE);
        const kernelOnly = space.map({
          kind: "anonymous",
          sizeBytes: PAGE_SIZE,
          protection: KERNEL_RW,
        });
        const readOnly = space.map({
          kind: "anonymous",
          sizeBytes: PAGE_SIZE,
          protection: USER_RO,
        });
        cpu.setCpl(3);
        const guard = faultOf(() => cpu.read8(stack - 8));
        expect(guard.report.reason).toMatch(/guard page/);
        expect(guard.report.region?.kind).toBe("stack");
        expect(guard.report).toMatchObject({
          address: stack - 8,
          access: "read",
          cpl: 3,
          cpu: 1,
          space: space.id,
        });
        const user = faultOf(() => cpu.write32(kernelOnly, 1));
        expect(user.report.reason).toMatch(/user-mode access to a supervisor/);
        expect(user.report.access).toBe("write");
        const ro = faultOf(() => cpu.write8(readOnly, 1));
        expect(ro.report.reason).toMatch(/read-only/);
        const none = faultOf(() => cpu.read32(space.high - PAGE_SIZE));
        expect(none.report.region).toBeUndefined();
        expect(none.message).toMatch(/no region/);
        cpu.write32(stack + 4, 5); // the stack itself works
        cpu.setCpl(0);
        // CR0.WP: the kernel cannot write a read-only page either; it can read a supervisor page.
        expect(faultOf(() => cpu.write8(readOnly, 1)).report.cpl).toBe(0);
        expect(cpu.read32(kernelOnly)).toBe(0);
        expect(vmm.stats().badFaults).toBe(5);
        vmm.check();
      });

      it("unmap and protect are seen at once by every CPU (INVLPG and shootdown)", () => {
        const { machine, vmm } = bootTestSystem({ mode, access });
        const space = vmm.createSpace();
        space.activate(0);
        space.activate(1);
        const [cpu0, cpu1] = machine.cpus as [typeof machine.cpu, typeof machine.cpu];
        const at = space.map({
          kind: "anonymous",
          sizeBytes: 3 * PAGE_SIZE,
          protection: USER_RW,
          commit: true,
        });
        for (const cpu of [cpu0, cpu1]) cpu.write32(at + PAGE_SIZE, 9); // both TLBs hold it
        space.protect(at + PAGE_SIZE, PAGE_SIZE, USER_RO);
        expect(faultOf(() => cpu1.write32(at + PAGE_SIZE, 1)).report.reason).toMatch(/read-only/);
        expect(cpu1.read32(at + PAGE_SIZE)).toBe(9);
        // protect split the region in three
        expect(space.regions().map((r) => [r.start - at, r.sizeBytes, r.protection.write])).toEqual(
          [
            [0, PAGE_SIZE, true],
            [PAGE_SIZE, PAGE_SIZE, false],
            [2 * PAGE_SIZE, PAGE_SIZE, true],
          ],
        );
        const before = vmm.stats().shootdowns;
        space.unmap(at + PAGE_SIZE, PAGE_SIZE);
        expect(vmm.stats().shootdowns).toBeGreaterThan(before);
        for (const cpu of [cpu0, cpu1])
          expect(faultOf(() => cpu.read32(at + PAGE_SIZE)).report.region).toBeUndefined();
        expect(space.translate(at + PAGE_SIZE)).toBe(-1);
        expect(cpu1.read32(at)).toBe(0);
        vmm.check();
      });

      it("a kernel mapping made in one space is visible from every space", () => {
        const { machine, vmm } = bootTestSystem({ mode, access });
        const a = vmm.createSpace();
        const b = vmm.createSpace();
        a.activate(0);
        b.activate(1);
        const k = vmm.kernelSpace.map({
          kind: "anonymous",
          sizeBytes: 2 * PAGE_SIZE,
          commit: true,
        });
        machine.cpus[0]!.write32(k + 8, 0x1234);
        expect(machine.cpus[1]!.read32(k + 8)).toBe(0x1234);
        const c = vmm.createSpace(); // created after the mapping
        c.activate(1);
        expect(machine.cpus[1]!.read32(k + 8)).toBe(0x1234);
        // but not from user mode
        machine.cpus[1]!.setCpl(3);
        expect(faultOf(() => machine.cpus[1]!.read32(k)).report.reason).toMatch(/supervisor/);
        machine.cpus[1]!.setCpl(0);
        vmm.check();
      });

      it("frames are zeroed before they are mapped, and destroy returns every frame", () => {
        const { machine, vmm, pmm } = bootTestSystem({ mode, access });
        const baseline = pmm.stats().freeFrames;
        const cpu = machine.cpu;
        const dirty = vmm.createSpace();
        dirty.activate(0);
        const at = dirty.map({ kind: "anonymous", sizeBytes: 16 * PAGE_SIZE, protection: USER_RW });
        for (let p = 0; p < 16; p++) cpu.fill(at + p * PAGE_SIZE, 0xee, PAGE_SIZE);
        dirty.destroy();
        expect(pmm.stats().freeFrames).toBe(baseline);
        const fresh = vmm.createSpace();
        fresh.activate(0);
        const again = fresh.map({
          kind: "anonymous",
          sizeBytes: 16 * PAGE_SIZE,
          protection: USER_RW,
          commit: true,
        });
        for (let p = 0; p < 16; p++) {
          const bytes = cpu.readBytes(again + p * PAGE_SIZE, PAGE_SIZE);
          expect(bytes.every((b) => b === 0)).toBe(true);
        }
        fresh.decommit(again, 16 * PAGE_SIZE);
        expect(fresh.stats().privateFrames).toBe(0);
        expect(cpu.read32(again + 5 * PAGE_SIZE)).toBe(0);
        fresh.destroy();
        expect(pmm.stats().freeFrames).toBe(baseline);
        expect(vmm.current(0)).toBe(vmm.kernelSpace);
        expect(codeOf(() => vmm.kernelSpace.destroy())).toBe("EINVAL");
        vmm.check();
      });

      it("bad arguments raise typed errors and change nothing", () => {
        const { vmm } = bootTestSystem({ mode, access });
        const space = vmm.createSpace();
        const at = space.map({ kind: "anonymous", sizeBytes: 2 * PAGE_SIZE, protection: USER_RW });
        const before = JSON.stringify(space.regions());
        expect(codeOf(() => space.map({ kind: "anonymous", sizeBytes: 100 }))).toBe("EINVAL");
        expect(codeOf(() => space.map({ kind: "nope" as "guard", sizeBytes: PAGE_SIZE }))).toBe(
          "EINVAL",
        );
        expect(
          codeOf(() => space.map({ kind: "anonymous", sizeBytes: PAGE_SIZE, align: 3000 })),
        ).toBe("EINVAL");
        expect(
          codeOf(() => space.map({ kind: "anonymous", sizeBytes: PAGE_SIZE, at: at + PAGE_SIZE })),
        ).toBe("EFAULT");
        expect(
          codeOf(() =>
            space.map({ kind: "anonymous", sizeBytes: PAGE_SIZE, at: vmm.layout.kernelBase }),
          ),
        ).toBe("EINVAL");
        expect(codeOf(() => space.map({ kind: "fixed", sizeBytes: PAGE_SIZE }))).toBe("EINVAL");
        expect(
          codeOf(() =>
            vmm.kernelSpace.map({ kind: "anonymous", sizeBytes: PAGE_SIZE, protection: USER_RW }),
          ),
        ).toBe("EINVAL");
        expect(codeOf(() => space.protect(at, 4 * PAGE_SIZE, USER_RO))).toBe("EFAULT");
        expect(codeOf(() => space.unmap(at + 1, PAGE_SIZE))).toBe("EINVAL");
        expect(codeOf(() => space.commit(at + 2 * PAGE_SIZE, PAGE_SIZE))).toBe("EFAULT");
        const image = vmm.kernelSpace.regions().find((r) => r.name === "page-table window")!;
        expect(codeOf(() => vmm.kernelSpace.unmap(image.start, PAGE_SIZE))).toBe("EINVAL");
        expect(JSON.stringify(space.regions())).toBe(before);
        vmm.check();
      });

      it("page tables that become empty go back to the PMM", () => {
        const { vmm, pmm } = bootTestSystem({ mode, access });
        const space = vmm.createSpace();
        const free = pmm.stats().freeFrames;
        const tables = vmm.stats().pageTablePages;
        // Far apart, so each needs its own tables.
        const a = space.map({
          kind: "anonymous",
          sizeBytes: PAGE_SIZE,
          at: 64 * MiB,
          commit: true,
          protection: USER_RW,
        });
        const b = space.map({
          kind: "anonymous",
          sizeBytes: PAGE_SIZE,
          at: GiB + 64 * MiB,
          commit: true,
          protection: USER_RW,
        });
        expect(vmm.stats().pageTablePages).toBeGreaterThan(tables);
        const own = space.stats().pageTablePages;
        const top = mode === "pae" ? 5 : 1;
        // a page table each; in long mode also a PD each and one PDPT for both
        expect(own - top).toBe(mode === "long" ? 5 : 2);
        expect(vmm.kernelSpace.stats().pageTablePages + own).toBe(vmm.stats().pageTablePages);
        space.unmap(a, PAGE_SIZE);
        space.unmap(b, PAGE_SIZE);
        expect(space.stats().pageTablePages).toBe(top);
        expect(vmm.stats().pageTablePages).toBe(tables);
        expect(pmm.stats().freeFrames).toBe(free);
      });
    });
  }
}

describe("x86 vmm: details", () => {
  it("check() finds a page-table entry that disagrees with its region", () => {
    const { vmm } = bootTestSystem({ mode: "long" });
    const space = vmm.createSpace();
    const at = space.map({ kind: "guard", sizeBytes: PAGE_SIZE });
    const other = space.map({
      kind: "anonymous",
      sizeBytes: PAGE_SIZE,
      commit: true,
      protection: USER_RW,
    });
    vmm.check();
    // Copy the committed page's PTE over the guard page's (a stray write into a page table).
    const walk = vmm.tables;
    const token = vmm.enter(space);
    walk.walk(space.root, other, false, false);
    const { low, high } = walk;
    walk.walk(space.root, at, false, false);
    walk.setEntry(at, low, high);
    vmm.leave(token);
    expect(() => vmm.check()).toThrow(/guard page is mapped/);
  });

  it("partial unmap splits a region; the rest keeps working", () => {
    const { machine, vmm } = bootTestSystem({ mode: "pae", access: "recursive" });
    const space = vmm.createSpace();
    space.activate(0);
    const at = space.map({
      kind: "anonymous",
      sizeBytes: 5 * PAGE_SIZE,
      protection: USER_RW,
      name: "five",
    });
    for (let p = 0; p < 5; p++) machine.cpu.write32(at + p * PAGE_SIZE, p + 1);
    space.unmap(at + PAGE_SIZE, 2 * PAGE_SIZE);
    expect(space.regions().map((r) => [r.start - at, r.sizeBytes / PAGE_SIZE, r.name])).toEqual([
      [0, 1, "five"],
      [3 * PAGE_SIZE, 2, "five"],
    ]);
    expect(machine.cpu.read32(at)).toBe(1);
    expect(machine.cpu.read32(at + 4 * PAGE_SIZE)).toBe(5);
    expect(faultOf(() => machine.cpu.read32(at + 2 * PAGE_SIZE)).report.region).toBeUndefined();
    vmm.check();
  });

  it("top-down and aligned gap search", () => {
    const { vmm } = bootTestSystem({ mode: "32bit" });
    const space = vmm.createSpace();
    const top = space.map({ kind: "anonymous", sizeBytes: PAGE_SIZE, topDown: true });
    expect(top).toBe(space.high - PAGE_SIZE);
    const aligned = space.map({ kind: "anonymous", sizeBytes: PAGE_SIZE, align: 4 * MiB });
    expect(aligned % (4 * MiB)).toBe(0);
    const low = space.map({ kind: "anonymous", sizeBytes: PAGE_SIZE });
    expect(low).toBe(space.low);
  });

  it("fixed regions map given frames and never give them to the PMM", () => {
    const { machine, vmm, pmm } = bootTestSystem({ mode: "long", access: "window", pmm: "bitmap" });
    const frames = pmm.allocFrames(2);
    machine.memory.write32(frames + PAGE_SIZE, 0xfeedface);
    const free = pmm.stats().freeFrames;
    const at = vmm.kernelSpace.map({
      kind: "fixed",
      sizeBytes: 2 * PAGE_SIZE,
      physical: frames,
      name: "framebuffer",
    });
    expect(machine.cpu.read32(at + PAGE_SIZE)).toBe(0xfeedface);
    expect(codeOf(() => vmm.kernelSpace.decommit(at, PAGE_SIZE))).toBe("EINVAL");
    vmm.kernelSpace.unmap(at, 2 * PAGE_SIZE);
    expect(pmm.stats().freeFrames).toBe(free);
    pmm.freeFrames(frames, 2);
    vmm.check();
  });

  it("the kernel heap's page source grows its region brk-style and hands freed pages back", () => {
    const { machine, vmm, pmm } = bootTestSystem({ mode: "long", ramBytes: 64 * MiB });
    const heap = vmm.kernelHeap;
    const region = vmm.kernelSpace.regionAt(vmm.layout.heapBase)!;
    const pages = region.sizeBytes / PAGE_SIZE;
    const a = heap.allocPages(pages); // fills the region
    const b = heap.allocPages(8, { commit: true }); // needs growth
    expect(a).toBe(region.start);
    expect(b).toBe(region.start + region.sizeBytes);
    expect(vmm.kernelSpace.regionAt(vmm.layout.heapBase)!.sizeBytes).toBe(
      region.sizeBytes + 8 * PAGE_SIZE,
    );
    expect(vmm.kernelSpace.translate(b)).toBeGreaterThan(0);
    machine.cpu.write32(b, 3);
    const free = pmm.stats().freeFrames;
    const held = vmm.stats().framesHeld;
    heap.freePages(b, 8);
    expect(vmm.stats().framesHeld).toBe(held - 8);
    // the 8 frames, and the page tables only they needed
    expect(pmm.stats().freeFrames).toBeGreaterThanOrEqual(free + 8);
    expect(codeOf(() => heap.freePages(b, 1))).toBe("EFAULT");
    expect(codeOf(() => heap.allocPages(1, { physical: { zone: "DMA" } }))).toBe("EUNSUPPORTED");
    expect(heap.stats()).toMatchObject({ pagesInUse: pages, allocCalls: 3, freeCalls: 1 });
    vmm.check();
  });

  it("a heap over the kernel heap reports running out of memory as 0, and recovers", () => {
    const { vmm, pmm } = bootTestSystem({ mode: "long", ramBytes: 16 * MiB });
    const heap = new ListHeap(vmm.kernelHeap);
    const live: number[] = [];
    for (;;) {
      const p = heap.heap_alloc(60_000, 0);
      if (p === 0) break;
      live.push(p);
    }
    expect(live.length).toBeGreaterThan(10);
    expect(pmm.stats().freeFrames).toBeLessThan(20);
    heap.check();
    vmm.check();
    for (const p of live) heap.heap_free(p);
    heap.check();
    expect(heap.heap_alloc(60_000, 0)).not.toBe(0);
    vmm.check();
  });

  it("a VMM cannot boot twice or be used before boot", () => {
    const vmm = new X86Vmm({ mode: "long", access: "direct-map" });
    expect(codeOf(() => vmm.kernelSpace)).toBe("EINVAL");
    expect(codeOf(() => new X86Vmm({ mode: "real" as "long", access: "window" }))).toBe("EINVAL");
    const { vmm: booted, machine, pmm } = bootTestSystem();
    expect(
      codeOf(() =>
        booted.boot({
          machine,
          pmm,
          memoryMap: machine.memoryMap,
          kernelImage: { base: MiB, length: MiB },
          bootAllocations: [],
        }),
      ),
    ).toBe("EINVAL");
  });
});
