import { AllocatorError, MiB, PAGE_SIZE, isAccessFault } from "@allockit/core";
import { describe, expect, it } from "vitest";
import { GuardPageSource } from "../src/index.js";
import { bootMachine } from "./machine.js";
import { thrown } from "./helpers.js";

describe("GuardPageSource", () => {
  const vmm = bootMachine();
  const space = vmm.kernelSpace;
  const memory = vmm.memory;

  it("maps each run between two guard pages that fault, the run itself committed", () => {
    const source = new GuardPageSource(space, memory, { quarantinePages: 8 });
    const run = source.allocPages(3);
    expect(run % PAGE_SIZE).toBe(0);
    expect(space.regionAt(run)).toMatchObject({ name: source.runName, kind: "anonymous" });
    expect(space.regionAt(run)?.committedPages).toBe(3);
    for (const guard of [run - PAGE_SIZE, run + 3 * PAGE_SIZE]) {
      expect(space.regionAt(guard)).toMatchObject({ name: source.guardName, kind: "guard" });
      expect(isAccessFault(thrown(() => memory.read8(guard)))).toBe(true);
    }
    memory.write32(run + 3 * PAGE_SIZE - 4, 7);
    expect(memory.read32(run + 3 * PAGE_SIZE - 4)).toBe(7);
    expect(source.isInUse(run + PAGE_SIZE)).toBe(true);
    expect(source.isInUse(run - 1)).toBe(false);
    expect(source.stats()).toMatchObject({ pagesInUse: 3, allocCalls: 1, failedCalls: 0 });
    source.check();
    source.destroy();
  });

  it("honours an alignment above the page size, with the guard page just below", () => {
    const source = new GuardPageSource(space, memory);
    const run = source.allocPages(2, { align: 64 * 1024 });
    expect(run % (64 * 1024)).toBe(0);
    expect(space.regionAt(run - PAGE_SIZE)?.name).toBe(source.guardName);
    expect(space.regionAt(run - 2 * PAGE_SIZE)?.name).not.toBe(source.guardName);
    source.check();
    source.freePages(run, 2);
    source.check();
    source.destroy();
  });

  it("quarantines freed pages as faulting reservations and releases the oldest first", () => {
    const source = new GuardPageSource(space, memory, { quarantinePages: 2 });
    const runs = [source.allocPages(1), source.allocPages(1), source.allocPages(1)];
    source.freePages(runs[0]!, 1);
    source.freePages(runs[1]!, 1);
    for (const run of runs.slice(0, 2)) {
      expect(space.regionAt(run)).toMatchObject({ name: source.quarantineName, kind: "guard" });
      expect(isAccessFault(thrown(() => memory.write8(run, 1)))).toBe(true);
    }
    source.freePages(runs[2]!, 1);
    expect(space.regionAt(runs[0]!)).toBeUndefined();
    expect(space.regionAt(runs[1]!)?.name).toBe(source.quarantineName);
    expect([source.quarantinedRanges, source.quarantinedPages]).toEqual([2, 2]);
    source.check();
    source.flushQuarantine();
    expect(source.quarantinedPages).toBe(0);
    // Every guard page went with the runs it bordered.
    expect(
      space.regions().filter((r) => r.name.startsWith(source.runName.replace(/ run$/, ""))),
    ).toEqual([]);
  });

  it("keeps the same regions over a space that has only regionAt (no recordAt)", () => {
    // The source looks regions up with the VMM's recordAt when the space has one; any other
    // AddressSpace goes through regionAt. Both must leave the same layout behind.
    const plain = new Proxy(space, {
      get(target, key) {
        if (key === "recordAt") return undefined;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const layouts: string[][] = [];
    for (const over of [space, plain]) {
      const source = new GuardPageSource(over, memory, { quarantinePages: 2, name: "same" });
      const runs = [source.allocPages(1), source.allocPages(2), source.allocPages(1)];
      source.freePages(runs[1]!, 2);
      source.freePages(runs[0]!, 1);
      expect(source.isInUse(runs[2]!)).toBe(true);
      expect(source.isInUse(runs[0]!)).toBe(false);
      expect((thrown(() => source.freePages(runs[0]!, 1)) as AllocatorError).code).toBe("EFAULT");
      source.check();
      layouts.push(
        space
          .regions()
          .filter((r) => r.name.startsWith("same "))
          .map((r) => `${r.name} ${(r.start - runs[0]!) / PAGE_SIZE}+${r.sizeBytes / PAGE_SIZE}`),
      );
      source.freePages(runs[2]!, 1);
      source.flushQuarantine();
      source.check();
      expect(space.regions().filter((r) => r.name.startsWith("same "))).toEqual([]);
    }
    expect(layouts[1]).toEqual(layouts[0]);
  });

  it("takes a run back in parts, keeping guard pages while any part is reserved", () => {
    const source = new GuardPageSource(space, memory, { quarantinePages: 0 });
    const run = source.allocPages(4);
    source.freePages(run + PAGE_SIZE, 2); // the middle: released at once
    expect(space.regionAt(run + PAGE_SIZE)).toBeUndefined();
    expect(space.regionAt(run - PAGE_SIZE)?.name).toBe(source.guardName);
    expect(source.stats().pagesInUse).toBe(2);
    source.freePages(run, 1);
    expect(space.regionAt(run - PAGE_SIZE)).toBeUndefined();
    expect(space.regionAt(run + 4 * PAGE_SIZE)?.name).toBe(source.guardName);
    source.freePages(run + 3 * PAGE_SIZE, 1);
    expect(space.regionAt(run + 4 * PAGE_SIZE)).toBeUndefined();
    expect(source.stats().pagesInUse).toBe(0);
    source.check();
  });

  it("refuses foreign runs, physical constraints and bad alignments with typed errors", () => {
    const source = new GuardPageSource(space, memory);
    const run = source.allocPages(1);
    const foreign = thrown(() => source.freePages(run + PAGE_SIZE, 1)) as AllocatorError;
    expect([foreign.code, foreign.message]).toEqual([
      "EFAULT",
      expect.stringContaining(String(run + PAGE_SIZE)),
    ]);
    expect((thrown(() => source.freePages(run, 2)) as AllocatorError).code).toBe("EFAULT");
    expect(
      (thrown(() => source.allocPages(1, { physical: { zone: "DMA" } })) as AllocatorError).code,
    ).toBe("EUNSUPPORTED");
    expect(
      (thrown(() => source.allocPages(1, { align: 3 * PAGE_SIZE })) as AllocatorError).code,
    ).toBe("EINVAL");
    expect((thrown(() => source.allocPages(0)) as AllocatorError).code).toBe("EINVAL");
    expect(source.physicalConstraints).toBeUndefined();
    expect(() => new GuardPageSource(space, memory, { pageLimit: -1 })).toThrow(AllocatorError);
    source.check();
    source.destroy();
    expect((thrown(() => source.allocPages(1)) as AllocatorError).code).toBe("EFAULT");
  });

  it("returns 0 at its page limit and when the PMM runs dry, leaving nothing mapped", () => {
    const limited = new GuardPageSource(space, memory, { pageLimit: 3 });
    expect(limited.allocPages(2)).not.toBe(0);
    expect(limited.allocPages(2)).toBe(0);
    expect(limited.stats()).toMatchObject({ pagesInUse: 2, failedCalls: 1, pageLimit: 3 });
    limited.destroy();

    const small = bootMachine("long", 8 * MiB);
    const source = new GuardPageSource(small.kernelSpace, small.memory, { quarantinePages: 0 });
    const regions = small.kernelSpace.stats().regions;
    expect(source.allocPages(4096)).toBe(0); // 16 MiB of frames on an 8 MiB machine
    expect(small.kernelSpace.stats().regions).toBe(regions);
    expect(source.stats()).toMatchObject({ pagesInUse: 0, failedCalls: 1 });
    source.check();
  });

  it("check() notices a guard page that went missing", () => {
    const source = new GuardPageSource(space, memory);
    const run = source.allocPages(1);
    space.unmap(run + PAGE_SIZE, PAGE_SIZE);
    expect((thrown(() => source.check()) as AllocatorError).code).toBe("ECORRUPT");
    source.destroy();
  });

  it("destroy() unmaps every region it mapped", () => {
    const before = space.stats().regions;
    const source = new GuardPageSource(space, memory, { quarantinePages: 4 });
    const a = source.allocPages(2);
    source.allocPages(1);
    source.freePages(a, 2);
    expect(space.stats().regions).toBeGreaterThan(before);
    source.destroy();
    expect(space.stats().regions).toBe(before);
  });
});
