import "reflect-metadata";
import { container } from "tsyringe";
import {
  API_VERSION,
  AllocatorError,
  FlatMemory,
  FlatPageSource,
  ListHeap,
  MiB,
  TOKENS,
  compose,
  manifestProblems,
  resolveToken,
} from "@allockit/core";
import { describe, expect, it } from "vitest";
import plugin, { GuardHeap, SamplingHeap, injectBug } from "../src/index.js";
import { thrown } from "./helpers.js";
import { bootMachine } from "./machine.js";

describe("heap-guard plugin manifest", () => {
  it("is a valid heap manifest", () => {
    expect(manifestProblems(plugin)).toEqual([]);
    expect(plugin.apiVersion).toBe(API_VERSION);
    expect(plugin.name).toBe("@allockit/heap-guard");
    expect(plugin.kind).toBe("heap");
  });

  it("fills option defaults and rejects unknown or out-of-range options", () => {
    expect(plugin.options.parse({})).toEqual({
      mode: "right",
      quarantinePages: 256,
      poolSlots: 4096,
    });
    expect(plugin.options.parse({ sample: { heap: { plugin: "@allockit/heap-slab" } } })).toEqual({
      mode: "right",
      quarantinePages: 256,
      poolSlots: 4096,
      sample: { every: 100, heap: { plugin: "@allockit/heap-slab" } },
    });
    for (const bad of [
      { mode: "middle" },
      { quarantinePages: -1 },
      { quarantinePages: 1.5 },
      { poolSlots: -1 },
      { poolSlots: 2.5 },
      { pageLimit: 0 },
      { colour: "blue" },
      { sample: { every: 0, heap: { plugin: "x" } } },
      { sample: { every: 4 } },
      { sample: { heap: { plugin: "" } } },
      { sample: { heap: { plugin: "x", extra: 1 } } },
    ])
      expect(plugin.options.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });

  it("names the heap it wraps in sampling mode, and none otherwise", () => {
    expect(plugin.wraps?.(plugin.options.parse({}))).toBeUndefined();
    const options = plugin.options.parse({
      sample: { every: 8, heap: { plugin: "@allockit/heap-bucket", options: { bucketKiB: 64 } } },
    });
    expect(plugin.wraps?.(options)).toEqual({
      plugin: "@allockit/heap-bucket",
      options: { bucketKiB: 64 },
    });
  });
});

describe("heap-guard plugin registration", () => {
  it("registers one GuardHeap over the flat page source when there is no VMM", () => {
    const child = container.createChildContainer();
    const source = new FlatPageSource(new FlatMemory(4 * MiB));
    child.register(TOKENS.PageSource, { useValue: source });
    plugin.register(
      child,
      plugin.options.parse({ mode: "left", quarantinePages: 4, pageLimit: 8 }),
    );
    const heap = resolveToken(child, TOKENS.Heap) as GuardHeap;
    expect(heap).toBeInstanceOf(GuardHeap);
    expect(resolveToken(child, TOKENS.Heap)).toBe(heap);
    expect([heap.mode, heap.quarantinePages, heap.guardPages]).toEqual(["left", 4, false]);
    // The page limit holds: the ring (1 page), the table (1) and six one-page objects.
    const ptrs = Array.from({ length: 7 }, () => heap.heap_alloc(100, 0));
    expect(ptrs.filter((p) => p === 0)).toHaveLength(1);
  });

  it("builds a guard page source over the kernel space when a VMM is registered", () => {
    const child = container.createChildContainer();
    child.register(TOKENS.Vmm, { useValue: bootMachine() });
    plugin.register(child, plugin.options.parse({}));
    const heap = resolveToken(child, TOKENS.Heap) as GuardHeap;
    expect(heap.guardPages).toBe(true);
    expect(injectBug(heap, "overflow").kind).toBe("overflow");
    // One-page objects come from the pool, reserved on the first one.
    const vmm = resolveToken(child, TOKENS.Vmm);
    const pool = vmm.kernelSpace.regions().filter((r) => r.name === "heap-guard pool");
    expect(pool.length).toBeGreaterThan(0);
    const p = heap.heap_alloc(8, 0);
    expect(vmm.kernelSpace.regionAt(p - 4096)?.name).toBe("heap-guard pool");
    heap.heap_free(p);
    heap.check();
  });

  it("in sampling mode wraps TOKENS.WrappedHeap, and says so when nothing was composed there", () => {
    const child = container.createChildContainer();
    const source = new FlatPageSource(new FlatMemory(4 * MiB));
    child.register(TOKENS.PageSource, { useValue: source });
    plugin.register(
      child,
      plugin.options.parse({ sample: { every: 2, heap: { plugin: "@allockit/core/list-heap" } } }),
    );
    const missing = thrown(() => resolveToken(child, TOKENS.Heap)) as AllocatorError;
    expect(missing.code).toBe("ECONFIG");
    expect(missing.message).toContain("@allockit/core/list-heap");

    const wrapped = child.createChildContainer();
    wrapped.register(TOKENS.WrappedHeap, { useValue: new ListHeap(source) });
    const heap = resolveToken(wrapped, TOKENS.Heap) as SamplingHeap;
    expect(heap).toBeInstanceOf(SamplingHeap);
    expect(heap.every).toBe(2);
    expect(heap.wrapped.name).toBe("list-heap");
  });

  it("is composed from a config by package name, over flat memory and over the VMM", async () => {
    const flat = await compose({
      machine: { plugin: "@allockit/core/flat" },
      heap: { plugin: "@allockit/heap-guard" },
    });
    expect(flat.heap.name).toBe("heap-guard");
    const p = flat.heap.heap_alloc(24, 0);
    flat.heap.heap_free(p);
    flat.heap.check();

    const machine = await compose({
      machine: { plugin: "@allockit/x86-machine", options: { ramMiB: 64 } },
      pmm: { plugin: "@allockit/pmm-buddy" },
      vmm: { plugin: "@allockit/vmm", options: { mode: "long" } },
      heap: { plugin: "@allockit/heap-guard", options: { quarantinePages: 32 } },
    });
    expect(machine.heap.name).toBe("heap-guard");
    const { injectBug: distInject } = await import("@allockit/heap-guard");
    const v = distInject(machine.heap, "use-after-free-write");
    expect([v.kind, v.access]).toEqual(["use-after-free-write", "write"]);
    expect(v.report).toMatch(/Use-after-free write at 0xffff8/);
  });

  it("composes sampling mode over another heap plugin, on flat memory and on the machine", async () => {
    for (const wrapped of ["@allockit/core/list-heap", "@allockit/heap-slab"]) {
      const flat = await compose({
        machine: { plugin: "@allockit/core/flat" },
        heap: {
          plugin: "@allockit/heap-guard",
          options: { sample: { every: 3, heap: { plugin: wrapped } } },
        },
      });
      expect(flat.heap.name).toMatch(/^guard-sampling\(/);
      const ptrs = Array.from({ length: 9 }, (_, i) => flat.heap.heap_alloc(16 + i, 0));
      expect(flat.heap.stats().extra?.sampled).toBe(3);
      for (const p of ptrs) flat.heap.heap_free(p);
      flat.heap.check();
    }
    const machine = await compose({
      machine: { plugin: "@allockit/x86-machine", options: { ramMiB: 64 } },
      pmm: { plugin: "@allockit/pmm-buddy" },
      vmm: { plugin: "@allockit/vmm" },
      heap: {
        plugin: "@allockit/heap-guard",
        options: { sample: { every: 2, heap: { plugin: "@allockit/heap-slab" } } },
      },
    });
    const { injectBug: distInject } = await import("@allockit/heap-guard");
    for (const kind of ["overflow", "use-after-free-read", "double-free"] as const)
      expect(distInject(machine.heap, kind).kind).toBe(kind);
    machine.heap.check();
  });
});
