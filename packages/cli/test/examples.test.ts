import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configSchemaText } from "../src/commands/schema.js";
import { composeSystem, readConfigFile } from "../src/system.js";
import { runWorkload } from "../src/workload.js";
import { allockitProcess as allockit, repoRoot } from "./cli-process.js";

const examples = join(repoRoot, "examples");
const files = readdirSync(examples).filter((name) => /\.(json|mjs)$/.test(name));

/** The heap name each heap plugin's heap reports. */
const HEAP_NAMES: Record<string, string> = {
  "@allockit/core/list-heap": "list-heap",
  "@allockit/heap-slab": "heap-slab",
  "@allockit/heap-bucket": "heap-bucket",
  "@allockit/heap-guard": "heap-guard",
};

interface SectionConfig {
  plugin: string;
  options?: Record<string, unknown>;
}

describe("the example configs in examples/", () => {
  it("cover every PMM x heap and every paging mode", () => {
    expect(files.length).toBeGreaterThanOrEqual(16);
    for (const pmm of ["stack", "bitmap", "buddy"])
      for (const heap of ["list-heap", "heap-slab", "heap-bucket", "heap-guard"])
        expect(files).toContain(`pae-${pmm}-${heap}.json`);
    expect(files).toContain("32bit-buddy-heap-slab.json");
    expect(files).toContain("long-buddy-heap-slab.json");
  });

  it("point editors at the shipped schema, which is what `allockit schema` prints", async () => {
    const shipped = readFileSync(
      join(repoRoot, "packages/cli/schema/allockit.schema.json"),
      "utf8",
    );
    expect(shipped).toBe(await configSchemaText());
    // It carries the first-party plugins' own options: a heap-slab option, a vmm enumeration.
    const schema = JSON.parse(shipped) as { properties: Record<string, { anyOf?: unknown[] }> };
    const heapVariants = JSON.stringify(schema.properties.heap!.anyOf);
    expect(heapVariants).toContain('"const":"@allockit/heap-slab"');
    expect(heapVariants).toContain('"keepEmptySlabs"');
    expect(JSON.stringify(schema.properties.vmm!.anyOf)).toContain('"enum":["32bit","pae","long"]');

    for (const name of files.filter((file) => file.endsWith(".json"))) {
      const config = JSON.parse(readFileSync(join(examples, name), "utf8")) as {
        $schema?: string;
      };
      expect(config.$schema, name).toBe("../packages/cli/schema/allockit.schema.json");
    }
  });

  for (const name of files) {
    it(`${name}: boots what it names and runs a workload on it`, async () => {
      const file = join(examples, name);
      const config = (await readConfigFile(file)) as Record<string, SectionConfig | undefined>;
      const system = await composeSystem(file);
      const heapPlugin = config.heap!.plugin;
      const sampled = (config.heap!.options?.sample as { heap?: SectionConfig } | undefined)?.heap
        ?.plugin;
      // The heap is the one named; a sampling guard heap names the heap it samples.
      if (sampled === undefined) {
        expect(system.heap.name).toBe(HEAP_NAMES[heapPlugin]);
      } else {
        expect(system.heap.name).toBe(`guard-sampling(${HEAP_NAMES[sampled]})`);
        expect(system.wrapped.heap?.manifest.name).toBe(sampled);
      }
      if (config.pmm === undefined) {
        expect(system.pmm).toBeUndefined();
      } else {
        expect(system.pmm?.name).toBe(config.pmm.plugin.replace("@allockit/", ""));
        expect(system.report?.stages.map((stage) => stage.name)).toContain("pmm");
      }
      if (config.vmm !== undefined) {
        expect(system.vmm?.mode).toBe(config.vmm.options?.mode ?? "long");
        expect(system.vmm?.access).toBe(config.vmm.options?.access ?? "direct-map");
      }
      const counters = runWorkload(system.heap, { ops: 2000, seed: 3, maxLiveBlocks: 200 });
      expect(counters.failures).toBe(0);
      system.heap.check();
      expect(system.heap.stats().liveBlocks).toBe(0);
      system.vmm?.check();
      system.pmm?.check();
    });
  }

  it("walk --config boots a config and explains a kernel address's walk on its first CPU", async () => {
    const pae = await allockit([
      "walk",
      "--config",
      "examples/pae-buddy-heap-slab.json",
      "--va",
      "0xc0100000",
    ]);
    expect(pae.code).toBe(0);
    expect(pae.stdout).toMatch(/^PAE paging: read of 0xc0100000 at CPL 0/);
    expect(pae.stdout).toMatch(/-> physical 0x100000 \(2 MiB page\)/);
    const long = await allockit([
      "walk",
      "--config",
      "examples/long-buddy-heap-slab.json",
      "--va",
      "0xffffffff80100000",
      "--json",
    ]);
    expect(long.code).toBe(0);
    expect(JSON.parse(long.stdout)).toMatchObject({ ok: true, physical: 0x100000 });
    const flat = await allockit([
      "walk",
      "--config",
      "examples/flat-heap-bucket.json",
      "--va",
      "0x1000",
    ]);
    expect(flat.code).toBe(1);
    expect(flat.stderr).toMatch(/has no x86 machine with a VMM to walk/);
  });
});
