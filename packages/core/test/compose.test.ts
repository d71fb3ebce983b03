import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  API_VERSION,
  DEFAULT_CONFIG,
  FLAT_CONFIG,
  HEAP_TESTBED_FLAT_MIB,
  ListHeap,
  compose,
  configJsonSchema,
  heapTestbedConfig,
  isAllocatorError,
  loadPlugin,
  parseConfig,
  type AllocatorError,
} from "@allockit/core";

const repoRoot = join(import.meta.dirname, "..", "..", "..");
const scratch = mkdtempSync(join(tmpdir(), "allockit-loader-"));
function scratchModule(name: string, source: string): string {
  const file = join(scratch, name);
  writeFileSync(file, source);
  return file;
}

async function rejection(promise: Promise<unknown>): Promise<AllocatorError> {
  try {
    await promise;
  } catch (error) {
    if (isAllocatorError(error)) return error;
    throw error;
  }
  throw new Error("expected an AllocatorError");
}

const flat = { plugin: "@allockit/core/flat", options: { sizeMiB: 16 } };

describe("compose", () => {
  it("composes the default config: the slab heap on a booted PAE machine with the buddy PMM", async () => {
    const system = await compose(DEFAULT_CONFIG, { resolveFrom: [repoRoot] });
    expect(system.heap.name).toBe("heap-slab");
    expect(system.pmm?.name).toBe("pmm-buddy");
    expect(system.vmm?.mode).toBe("pae");
    expect(system.report?.stages.length).toBeGreaterThan(3);
    const ptr = system.heap.heap_alloc(100);
    system.memory.write32(ptr, 0x12345678);
    expect(system.heap.memory.read32(ptr)).toBe(0x12345678);
  });

  it("composes the flat config into a working ListHeap over flat memory", async () => {
    const system = await compose(FLAT_CONFIG, { resolveFrom: [repoRoot] });
    expect(system.heap).toBeInstanceOf(ListHeap);
    expect(system.plugins.machine?.manifest.name).toBe("@allockit/core/flat");
    const p = system.heap.heap_alloc(100);
    system.memory.write32(p, 0x12345678);
    expect(system.heap.memory.read32(p)).toBe(0x12345678);
    expect(system.pageSource.stats().pagesInUse).toBeGreaterThan(0);
    expect(system.pmm).toBeUndefined();
  });

  it("composes a heap testbed: the same heap on flat memory and on a booted long-mode machine", async () => {
    const heap = { plugin: "@allockit/core/list-heap", options: {} };
    const flat = await compose(heapTestbedConfig(heap, "flat"), { resolveFrom: [repoRoot] });
    expect(flat.plugins.machine?.manifest.name).toBe("@allockit/core/flat");
    const end = HEAP_TESTBED_FLAT_MIB * 2 ** 20;
    expect(() => flat.memory.read32(end - 4)).not.toThrow();
    expect(() => flat.memory.read32(end)).toThrow(/outside flat memory/);
    expect(flat.pmm).toBeUndefined();
    const machine = await compose(heapTestbedConfig(heap, "machine", { ramMiB: 64, mode: "pae" }), {
      resolveFrom: [repoRoot],
    });
    expect(machine.plugins.pmm?.manifest.name).toBe("@allockit/pmm-buddy");
    expect(machine.plugins.vmm?.manifest.name).toBe("@allockit/vmm");
    expect(parseConfig(heapTestbedConfig(heap, "machine")).vmm?.options).toEqual({ mode: "long" });
    for (const system of [flat, machine]) {
      const p = system.heap.heap_alloc(100);
      expect(p).not.toBe(0);
      system.heap.heap_free(p);
      system.heap.check();
    }
  });

  it("gives each composed system its own instances", async () => {
    const a = await compose({ machine: flat, heap: { plugin: "@allockit/core/list-heap" } });
    const b = await compose({ machine: flat, heap: { plugin: "@allockit/core/list-heap" } });
    // Identity checks on booleans: vitest's toBe deep-compares objects on mismatch, and these
    // hold whole memories.
    expect(a.heap === b.heap).toBe(false);
    expect(a.memory === b.memory).toBe(false);
    expect(a.heap === a.container.resolve(Symbol.for("allockit.Heap"))).toBe(true);
  });

  it("loads a third-party plugin by package name through the same loader and composes it", async () => {
    const loaded = await loadPlugin("allockit-plugin-example-heap", { resolveFrom: [repoRoot] });
    expect(loaded.manifest.kind).toBe("heap");
    expect(loaded.file).toContain("allockit-plugin-example-heap");
    const system = await compose(
      {
        machine: flat,
        heap: { plugin: "allockit-plugin-example-heap", options: { redzoneBytes: 8 } },
      },
      { resolveFrom: [repoRoot] },
    );
    expect(system.heap.name).toBe("example-page-heap");
    const p = system.heap.heap_alloc(5000, 64);
    expect(p % 64).toBe(0);
    expect(system.memory.read8(p - 1)).toBe(0xfd); // its red zone, so its options reached it
    system.heap.heap_free(p);
    expect(system.pageSource.stats().pagesInUse).toBe(0);
  });

  it("validates the third-party plugin's options with its own schema", async () => {
    const error = await rejection(
      compose({
        machine: flat,
        heap: { plugin: "allockit-plugin-example-heap", options: { redzoneBytes: 99 } },
      }),
    );
    expect(error.code).toBe("EPLUGIN");
    expect(error.message).toContain("allockit-plugin-example-heap");
    expect(error.message).toContain("heap.options.redzoneBytes");
    expect(error.message).toContain("99");
  });
});

describe("config and plugin errors name the plugin, the field path and the value", () => {
  it("unknown plugin package", async () => {
    const error = await rejection(
      compose({ machine: flat, heap: { plugin: "allockit-plugin-does-not-exist" } }),
    );
    expect(error.code).toBe("EPLUGIN");
    expect(error.message).toContain('"allockit-plugin-does-not-exist" not found');
  });

  it("a module that is not a manifest", async () => {
    const file = scratchModule("not-a-manifest.mjs", "export default { hello: 'world' };\n");
    const error = await rejection(compose({ machine: flat, heap: { plugin: file } }));
    expect(error.code).toBe("EPLUGIN");
    expect(error.message).toContain(file);
    expect(error.message).toMatch(
      /does not export a plugin manifest.*apiVersion is missing.*register is not a function/,
    );
  });

  it("a module with no default export", async () => {
    const file = scratchModule("named-only.mjs", "export const plugin = 1;\n");
    const error = await rejection(loadPlugin(file));
    expect(error.message).toContain("the default export is undefined");
  });

  it("a module that fails to load", async () => {
    const file = scratchModule("broken.mjs", "export default {;\n");
    const error = await rejection(loadPlugin(file));
    expect(error.code).toBe("EPLUGIN");
    expect(error.message).toContain("failed to load");
  });

  it("composes a heap plugin that wraps another heap plugin (PluginManifest.wraps)", async () => {
    // A counting wrapper written as a plain module: it reaches the wrapped heap by its token.
    const file = scratchModule(
      "counting-heap.mjs",
      `export default { apiVersion: ${API_VERSION}, name: "counting-heap", kind: "heap",
         options: { safeParse: (v) => ({ success: true, data: { inner: "@allockit/core/list-heap", ...v } }) },
         wraps: (options) => ({ plugin: options.inner, options: { arenaBytes: 8192 } }),
         register(container) {
           container.register(Symbol.for("allockit.Heap"), { useFactory: (c) => {
             const inner = c.resolve(Symbol.for("allockit.WrappedHeap"));
             const heap = Object.create(inner);
             heap.name = "counting-heap";
             heap.calls = 0;
             heap.heap_alloc = (size, align) => { heap.calls++; return inner.heap_alloc(size, align); };
             return heap;
           } });
         } };\n`,
    );
    const system = await compose(
      { machine: flat, heap: { plugin: file } },
      { resolveFrom: [repoRoot] },
    );
    expect(system.heap.name).toBe("counting-heap");
    expect(system.wrapped.heap?.manifest.name).toBe("@allockit/core/list-heap");
    const inner = system.container.resolve(Symbol.for("allockit.WrappedHeap")) as ListHeap;
    expect(inner).toBeInstanceOf(ListHeap);
    const ptr = system.heap.heap_alloc(100);
    expect(inner.heap_size(ptr)).toBeGreaterThanOrEqual(100);
    expect((system.heap as unknown as { calls: number }).calls).toBe(1);
    // The wrapped heap grew from the system's page source, in 8 KiB arenas as its options said.
    expect(system.pageSource.stats().pagesInUse).toBe(2);

    const notHeap = await rejection(
      compose(
        { machine: flat, heap: { plugin: file, options: { inner: "@allockit/core/flat" } } },
        { resolveFrom: [repoRoot] },
      ),
    );
    expect(notHeap.code).toBe("ECONFIG");
    expect(notHeap.message).toMatch(
      /wraps "@allockit\/core\/flat", a machine plugin, not a heap plugin/,
    );
    const nested = await rejection(
      compose(
        { machine: flat, heap: { plugin: file, options: { inner: file } } },
        { resolveFrom: [repoRoot] },
      ),
    );
    expect(nested.message).toMatch(/wrapping heaps do not nest/);
  });

  it("wrong apiVersion", async () => {
    const file = scratchModule(
      "future.mjs",
      `export default { apiVersion: ${API_VERSION + 1}, name: "future", kind: "heap",
         options: { safeParse: (v) => ({ success: true, data: v }) }, register() {} };\n`,
    );
    const error = await rejection(loadPlugin(file));
    expect(error.code).toBe("EPLUGIN");
    expect(error.message).toContain(`apiVersion ${API_VERSION + 1}`);
    expect(error.message).toContain(`this core speaks ${API_VERSION}`);
  });

  it("an option of the wrong type", async () => {
    const error = await rejection(
      compose({
        machine: { plugin: "@allockit/core/flat", options: { sizeMiB: "64" } },
        heap: { plugin: "@allockit/core/list-heap" },
      }),
    );
    expect(error.code).toBe("EPLUGIN");
    expect(error.message).toContain('"@allockit/core/flat"');
    expect(error.message).toContain('machine.options.sizeMiB = "64"');
    expect(error.message).toMatch(/expected number/);
  });

  it("an unknown option", async () => {
    const error = await rejection(
      compose({
        machine: flat,
        heap: { plugin: "@allockit/core/list-heap", options: { arenaBytez: 4096 } },
      }),
    );
    expect(error.message).toContain("arenaBytez");
  });

  it("a plugin in the wrong section", async () => {
    const error = await rejection(
      compose({
        machine: { plugin: "@allockit/core/list-heap" },
        heap: { plugin: "@allockit/core/list-heap" },
      }),
    );
    expect(error.code).toBe("ECONFIG");
    expect(error.message).toContain("is a heap plugin, not a machine plugin");
  });

  it("a malformed config names the source, the JSON path and the value", () => {
    let error: unknown;
    try {
      parseConfig({ heap: { plugin: 5 }, pmm: { plugin: "x", extra: true } }, "my.json");
    } catch (e) {
      error = e;
    }
    expect(isAllocatorError(error) && error.code).toBe("ECONFIG");
    const message = (error as Error).message;
    expect(message).toContain("my.json");
    expect(message).toContain("heap.plugin = 5");
    expect(message).toContain("extra");
  });

  it("a config with no page source", async () => {
    const error = await rejection(compose({ heap: { plugin: "@allockit/core/list-heap" } }));
    expect(error.code).toBe("ECONFIG");
    expect(error.message).toContain("page source");
  });
});

describe("config JSON Schema", () => {
  it("describes every section for editors", () => {
    const schema = configJsonSchema() as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["machine", "pmm", "vmm", "heap"]),
    );
    expect(schema.required).toContain("heap");
  });
});
