/**
 * The scenario corpus: every *.json under test/scenarios (32bit/, pae/, long/, tlb/) is run
 * through the scenario runner and compared with its hand-derived `expect` list. A few machine
 * rules the scenario format cannot express (CR0.PG, CR4.PAE, CR0.CD/NW) are unit-tested below.
 */
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  CR0_PG,
  CR4_PAE,
  GeneralProtectionError,
  Machine,
  checkScenario,
  parseScenario,
} from "@allockit/x86-machine";

const root = join(dirname(fileURLToPath(import.meta.url)), "scenarios");

function findJson(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findJson(path));
    else if (entry.isFile() && entry.name.endsWith(".json")) out.push(path);
  }
  return out.sort();
}

const files = findJson(root);
const load = (file: string): unknown => JSON.parse(readFileSync(file, "utf8"));

describe("scenario corpus", () => {
  for (const file of files) {
    const name = relative(root, file);
    it(name, () => {
      const scenario = load(file);
      const parsed = parseScenario(scenario, name);
      // Every scenario states what it expects: a setup #GP, or one result per step.
      expect(
        parsed.expectSetup !== undefined || (parsed.expect?.length ?? 0) > 0,
        `${name} has no expectations`,
      ).toBe(true);
      expect(parsed.description ?? "", `${name} explains its expectations`).not.toBe("");
      const { mismatches } = checkScenario(scenario);
      const report = mismatches
        .map(
          (m) =>
            `step ${m.step} (${m.op}): expected ${JSON.stringify(m.expected)}, got ${JSON.stringify(m.actual)}`,
        )
        .join("\n");
      expect(mismatches, `${name}\n${report}`).toEqual([]);
    });
  }

  it("covers every paging mode and the TLB rules", () => {
    const count = (folder: string) =>
      files.filter((f) => relative(root, f).startsWith(folder + "/")).length;
    expect(count("32bit")).toBeGreaterThanOrEqual(15);
    expect(count("pae")).toBeGreaterThanOrEqual(15);
    expect(count("long")).toBeGreaterThanOrEqual(15);
    expect(count("tlb")).toBeGreaterThanOrEqual(15);
    // Each folder holds scenarios of its own mode; tlb/ mixes all three.
    const modes = (folder: string) =>
      new Set(
        files
          .filter((f) => relative(root, f).startsWith(folder + "/"))
          .map((f) => parseScenario(load(f)).mode),
      );
    expect([...modes("32bit")]).toEqual(["32bit"]);
    expect([...modes("pae")]).toEqual(["pae"]);
    expect([...modes("long")]).toEqual(["long"]);
    expect([...modes("tlb")].sort()).toEqual(["32bit", "long", "pae"]);
  });

  it("a wrong expectation is reported, not ignored", () => {
    const scenario = load(join(root, "32bit", "01-4k-translate-and-ad.json")) as {
      expect: unknown[];
    };
    const broken = structuredClone(scenario);
    broken.expect[0] = { pa: "0x5235" };
    const { mismatches } = checkScenario(broken);
    expect(mismatches).toHaveLength(1);
    expect(mismatches[0]).toMatchObject({ step: 0, expected: { pa: "0x5235" } });
  });
});

// ---------------------------------------------------------------- rules outside the format

/** PAE tables: PDPT at 0x1000 (PDPTE 0 -> PD 0x2000), PDE 6 -> PT 0x3000, PTE 1 -> 0x5000. */
function paeMachine(): Machine {
  const machine = new Machine({ ramBytes: 64 * 2 ** 20, maxPhysAddr: 36 });
  machine.memory.write64(0x1000, 0x2001, 0);
  machine.memory.write64(0x2030, 0x3007, 0);
  machine.memory.write64(0x3008, 0x5007, 0);
  // A second tree: PD 0x6000, PDE 6 -> PT 0x7000, PTE 1 -> 0x8000.
  machine.memory.write64(0x6030, 0x7007, 0);
  machine.memory.write64(0x7008, 0x8007, 0);
  return machine;
}

describe("TLB invalidation and PDPTE loads on mode changes (SDM 4.4.1, 4.10.4.1)", () => {
  it("clearing CR0.PG invalidates every TLB entry, global ones included", () => {
    const machine = new Machine({ ramBytes: 64 * 2 ** 20 });
    const { cpu, memory } = machine;
    memory.write32(0x100c, 0x2007);
    memory.write32(0x2004, 0x5107); // global
    cpu.setCr4(cpu.cr4 | 0x80); // PGE
    cpu.enablePaging("32bit", 0x1000);
    expect(cpu.probe(0xc01234, "read")).toBe(0x5234);
    memory.write32(0x2004, 0x6107);
    cpu.setCr3(0x1000);
    expect(cpu.probe(0xc01234, "read")).toBe(0x5234); // global: kept across MOV CR3
    cpu.setCr0(cpu.cr0 & ~CR0_PG);
    expect(cpu.probe(0xc01234, "read")).toBe(0xc01234); // no paging: identity
    cpu.setCr0(cpu.cr0 | CR0_PG);
    expect(cpu.probe(0xc01234, "read")).toBe(0x6234);
  });

  it("changing CR4.PAE invalidates the TLB and loads the PDPTEs", () => {
    const machine = paeMachine();
    const { cpu, memory } = machine;
    // 32-bit tables at 0x10000 map 0xc01234 -> 0x9234.
    memory.write32(0x1000c, 0x11007);
    memory.write32(0x11004, 0x9007);
    cpu.enablePaging("32bit", 0x10000);
    expect(cpu.probe(0xc01234, "read")).toBe(0x9234);
    // Into PAE with CR3 = 0x10000: the PDPT there is the 32-bit PD, whose entry 0 is 0 (not
    // present) and entry 1 (PDEs 2-3 as a PDPTE) 0: legal, so PAE is entered, the TLB flushed.
    cpu.setCr4(cpu.cr4 | CR4_PAE);
    expect(cpu.mode).toBe("pae");
    expect(() => cpu.probe(0xc01234, "read")).toThrow(/#PF/);
    // With a PDPT containing reserved bits the CR4 write #GPs and the mode stays PAE.
    memory.write64(0x10008, 0x2003, 0); // PDPTE 1, R/W reserved
    expect(() => cpu.setCr4(cpu.cr4 & ~CR4_PAE)).not.toThrow(); // back to 32-bit: no PDPTE load
    expect(cpu.mode).toBe("32bit");
    expect(() => cpu.setCr4(cpu.cr4 | CR4_PAE)).toThrow(GeneralProtectionError);
    expect(cpu.mode).toBe("32bit");
  });

  it("enabling PAE paging with CR0.PG loads the PDPTEs (and #GPs on reserved bits)", () => {
    const machine = paeMachine();
    const { cpu, memory } = machine;
    memory.write64(0x1008, 0x2001, 0x80000000); // PDPTE 1: bit 63 reserved
    cpu.setCr4(cpu.cr4 | CR4_PAE);
    cpu.setCr3(0x1000); // paging off: nothing loaded yet
    expect(() => cpu.setCr0(cpu.cr0 | CR0_PG)).toThrow(GeneralProtectionError);
    expect(cpu.mode).toBe("none");
    memory.write64(0x1008, 0, 0);
    cpu.setCr0(cpu.cr0 | CR0_PG);
    expect(cpu.probe(0xc01234, "read")).toBe(0x5234);
  });

  it("the Memory interface's TLB hit path re-checks CPL, SMAP and AC (SDM 4.6.1, 4.10.2.2)", () => {
    const machine = new Machine({ ramBytes: 64 * 2 ** 20 });
    const { cpu, memory } = machine;
    memory.write32(0x100c, 0x2003); // supervisor PDE -> PT 0x2000
    memory.write32(0x2004, 0x5003); // supervisor PTE -> 0x5000
    memory.write32(0x1010, 0x3007); // user PDE -> PT 0x3000
    memory.write32(0x3004, 0x6007); // user PTE -> 0x6000
    memory.write32(0x5234, 0x1111);
    memory.write32(0x6234, 0x2222);
    cpu.enablePaging("32bit", 0x1000);
    expect(cpu.read32(0xc01234)).toBe(0x1111); // filled at CPL 0
    cpu.setCpl(3);
    expect(() => cpu.read32(0xc01234)).toThrow(expect.objectContaining({ errorCode: 5 }));
    cpu.setCpl(0);
    cpu.setAc(true);
    cpu.setCr4(cpu.cr4 | 0x200000); // SMAP
    cpu.write32(0x1001234, 0x3333); // AC=1: allowed, and the entry is now dirty
    cpu.setAc(false);
    expect(() => cpu.read32(0x1001234)).toThrow(expect.objectContaining({ errorCode: 1 }));
    expect(() => cpu.write32(0x1001234, 0)).toThrow(expect.objectContaining({ errorCode: 3 }));
    expect(memory.read32(0x6234)).toBe(0x3333);
  });

  it("MOV to CR0 changing CD or NW reloads the PDPTEs under PAE paging; changing WP does not", () => {
    const machine = paeMachine();
    const { cpu, memory } = machine;
    const CD = 1 << 30;
    const NW = 1 << 29;
    cpu.enablePaging("pae", 0x1000);
    memory.write64(0x1000, 0x6001, 0);
    cpu.setCr0(cpu.cr0 ^ 0x10000); // WP: flushes the TLB but keeps the PDPTE registers
    expect(cpu.probe(0xc01234, "read")).toBe(0x5234);
    cpu.setCr0(cpu.cr0 | CD);
    cpu.invlpg(0xc01234);
    expect(cpu.probe(0xc01234, "read")).toBe(0x8234);
    memory.write64(0x1000, 0x2001, 0);
    cpu.setCr0(cpu.cr0 | NW);
    cpu.invlpg(0xc01234);
    expect(cpu.probe(0xc01234, "read")).toBe(0x5234);
    memory.write64(0x1000, 0x2021, 0); // bit 5 reserved
    expect(() => cpu.setCr0(cpu.cr0 & ~CD)).toThrow(GeneralProtectionError);
    expect(cpu.cr0 & CD).toBe(CD); // CR0 unchanged by the faulting MOV
  });
});
