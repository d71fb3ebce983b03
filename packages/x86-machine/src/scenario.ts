import { AllocatorError, MiB, hex, packCanonical } from "@allockit/core";
import { z } from "zod";
import type { Cpu } from "./cpu.js";
import { GeneralProtectionError, PageFaultError } from "./faults.js";
import { Machine } from "./machine.js";
import {
  CR0_WP,
  CR4_PGE,
  CR4_PSE,
  CR4_SMAP,
  CR4_SMEP,
  EFER_NXE,
  RFLAGS_AC,
  type PagingMode,
} from "./registers.js";

/**
 * Scenario files: a machine set up by hand (mode, control bits, memory contents, CR3) and a list
 * of steps run on it, each with a JSON result. The format is a public interface, documented in
 * the package README.
 */

const number = z.union([
  z.string().regex(/^(0x[0-9a-fA-F_]+|[0-9_]+)$/, "a hex (0x...) or decimal string"),
  z.number().int().nonnegative(),
]);
const bool = z.boolean().optional();

const memoryBlock = z.union([
  z.object({ pa: number, u32: z.array(number).min(1) }).strict(),
  z.object({ pa: number, u64: z.array(number).min(1) }).strict(),
  z.object({ pa: number, u8: z.array(number).min(1) }).strict(),
]);

const kind = z.enum(["read", "write", "fetch"]);

/** One step of a scenario. */
export const scenarioStepSchema = z.discriminatedUnion("op", [
  z
    .object({
      op: z.literal("access"),
      va: number,
      kind,
      cpl: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]).default(0),
      implicit: z.boolean().default(false),
    })
    .strict(),
  z
    .object({
      op: z.literal("writePhys"),
      pa: number,
      u32: number.optional(),
      u64: number.optional(),
    })
    .strict(),
  z
    .object({
      op: z.literal("readPhys"),
      pa: number,
      width: z.union([z.literal(32), z.literal(64)]).default(32),
    })
    .strict(),
  z.object({ op: z.literal("invlpg"), va: number }).strict(),
  z.object({ op: z.literal("movCr3"), value: number }).strict(),
  z.object({ op: z.literal("setCr0"), wp: bool }).strict(),
  z.object({ op: z.literal("setCr4"), pse: bool, pge: bool, smep: bool, smap: bool }).strict(),
  z.object({ op: z.literal("setEfer"), nxe: bool }).strict(),
  z.object({ op: z.literal("setRflags"), ac: bool }).strict(),
]);

export const scenarioSchema = z
  .object({
    $schema: z.string().optional(),
    description: z.string().optional(),
    mode: z.enum(["32bit", "pae", "long"]),
    maxPhysAddr: z.number().int().min(32).max(52).default(36),
    ramMiB: z.number().int().min(1).max(65536).default(64),
    page1GB: z.boolean().default(true),
    cr0: z.object({ wp: bool }).strict().default({}),
    cr4: z.object({ pse: bool, pge: bool, smep: bool, smap: bool }).strict().default({}),
    efer: z.object({ nxe: bool }).strict().default({}),
    rflags: z.object({ ac: bool }).strict().default({}),
    cr3: number,
    memory: z.array(memoryBlock).default([]),
    steps: z.array(scenarioStepSchema).default([]),
    /** Expected results, one per step (and `setup` when set-up must fault): see checkScenario. */
    expect: z.array(z.record(z.string(), z.unknown())).optional(),
    expectSetup: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export type Scenario = z.input<typeof scenarioSchema>;
export type ScenarioStep = z.output<typeof scenarioStepSchema>;

/** One step's result: a physical address, a fault, a value read, or nothing. */
export type StepResult =
  | { pa: string }
  | { fault: "PF"; errorCode: number; cr2: string }
  | { fault: "GP" }
  | { value: string }
  | Record<string, never>;

export interface ScenarioResult {
  /** Present only when setting the machine up faulted (loading PDPTEs from CR3, say). */
  setup?: { fault: "GP" };
  steps: StepResult[];
}

export interface ScenarioOptions {
  /** Add a "reason" to every fault result (the rule that caused it). Default off. */
  explain?: boolean;
}

function toBigInt(value: string | number): bigint {
  return typeof value === "number" ? BigInt(value) : BigInt(value.replace(/_/g, ""));
}

function toNumber(value: string | number, what: string): number {
  const big = toBigInt(value);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new AllocatorError("EINVAL", `${what} ${String(value)} is larger than 2^53`, value);
  }
  return Number(big);
}

/** Validates a scenario; errors name the JSON path and the bad value. */
export function parseScenario(
  input: unknown,
  source = "scenario",
): z.output<typeof scenarioSchema> {
  const result = scenarioSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new AllocatorError(
    "EINVAL",
    `${source}: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    input,
  );
}

/** A machine set up as the scenario describes (memory filled, then paging on with CR3). */
export function scenarioMachine(input: unknown): {
  machine: Machine;
  cpu: Cpu;
  scenario: z.output<typeof scenarioSchema>;
  setupFault?: GeneralProtectionError;
} {
  const scenario = parseScenario(input);
  const machine = new Machine({
    ramBytes: scenario.ramMiB * MiB,
    maxPhysAddr: scenario.maxPhysAddr,
    page1GB: scenario.page1GB,
  });
  const cpu = machine.cpu;
  for (const block of scenario.memory) {
    const pa = toNumber(block.pa, "pa");
    if ("u32" in block)
      block.u32.forEach((v, i) =>
        machine.memory.write32(pa + i * 4, Number(toBigInt(v) & 0xffffffffn)),
      );
    else if ("u64" in block) block.u64.forEach((v, i) => writeU64(machine, pa + i * 8, v));
    else block.u8.forEach((v, i) => machine.memory.write8(pa + i, Number(toBigInt(v) & 0xffn)));
  }
  cpu.setCr4(
    (scenario.cr4.pse ? CR4_PSE : 0) |
      (scenario.cr4.pge ? CR4_PGE : 0) |
      (scenario.cr4.smep ? CR4_SMEP : 0) |
      (scenario.cr4.smap ? CR4_SMAP : 0),
  );
  cpu.setEfer(scenario.efer.nxe ? EFER_NXE : 0);
  cpu.setRflags(0x2 | (scenario.rflags.ac ? RFLAGS_AC : 0));
  cpu.setCr0(scenario.cr0.wp ? cpu.cr0 | CR0_WP : cpu.cr0);
  try {
    cpu.enablePaging(scenario.mode as PagingMode, toNumber(scenario.cr3, "cr3"));
  } catch (error) {
    if (error instanceof GeneralProtectionError)
      return { machine, cpu, scenario, setupFault: error };
    throw error;
  }
  return { machine, cpu, scenario };
}

function writeU64(machine: Machine, pa: number, value: string | number): void {
  const big = toBigInt(value);
  machine.memory.write64(pa, Number(big & 0xffffffffn), Number((big >> 32n) & 0xffffffffn));
}

/** Parses a linear address: canonical 64-bit in long mode (packed; -1 if non-canonical). */
function linear(cpu: Cpu, value: string | number): number {
  if (cpu.mode === "long") return packCanonical(toBigInt(value));
  return toNumber(value, "va");
}

/** Runs a scenario and returns one result per step. */
export function runScenario(input: unknown, options: ScenarioOptions = {}): ScenarioResult {
  const { cpu, machine, scenario, setupFault } = scenarioMachine(input);
  if (setupFault !== undefined)
    return { setup: withReason({ fault: "GP" as const }, setupFault, options), steps: [] };
  const steps: StepResult[] = [];
  for (const s of scenario.steps) {
    try {
      steps.push(runStep(cpu, machine, s));
    } catch (error) {
      if (error instanceof PageFaultError) {
        const fault = {
          fault: "PF" as const,
          errorCode: error.errorCode,
          cr2: cpu.formatLinear(error.cr2),
        };
        steps.push(withReason(fault, error, options));
      } else if (error instanceof GeneralProtectionError) {
        steps.push(withReason({ fault: "GP" as const }, error, options));
      } else {
        throw error;
      }
    }
  }
  return { steps };
}

function withReason<T extends object>(
  result: T,
  error: Error & { explanation: readonly string[] },
  options: ScenarioOptions,
): T {
  return options.explain ? { ...result, reason: error.explanation.join("; ") } : result;
}

function runStep(cpu: Cpu, machine: Machine, s: ScenarioStep): StepResult {
  switch (s.op) {
    case "access": {
      const va = linear(cpu, s.va);
      if (va < 0)
        throw new GeneralProtectionError(`linear address ${String(s.va)} is not canonical`);
      const pa = cpu.probe(va, s.kind, { cpl: s.cpl, implicit: s.implicit });
      return { pa: hex(pa) };
    }
    case "writePhys": {
      const pa = toNumber(s.pa, "pa");
      if (s.u64 !== undefined) writeU64(machine, pa, s.u64);
      else if (s.u32 !== undefined)
        machine.memory.write32(pa, Number(toBigInt(s.u32) & 0xffffffffn));
      else throw new AllocatorError("EINVAL", "writePhys needs u32 or u64", s);
      return {};
    }
    case "readPhys": {
      const pa = toNumber(s.pa, "pa");
      if (s.width === 64) {
        const value =
          (BigInt(machine.memory.read64High(pa)) << 32n) | BigInt(machine.memory.read64Low(pa));
        return { value: "0x" + value.toString(16) };
      }
      return { value: hex(machine.memory.read32(pa)) };
    }
    case "invlpg": {
      const va = linear(cpu, s.va);
      if (va >= 0) cpu.invlpg(va); // INVLPG of a non-canonical address is a no-op here
      return {};
    }
    case "movCr3":
      cpu.setCr3(toNumber(s.value, "cr3"));
      return {};
    case "setCr0":
      if (s.wp !== undefined) cpu.setCr0(s.wp ? cpu.cr0 | CR0_WP : cpu.cr0 & ~CR0_WP);
      return {};
    case "setCr4": {
      let cr4 = cpu.cr4;
      const bits: Array<[boolean | undefined, number]> = [
        [s.pse, CR4_PSE],
        [s.pge, CR4_PGE],
        [s.smep, CR4_SMEP],
        [s.smap, CR4_SMAP],
      ];
      for (const [on, bit] of bits) if (on !== undefined) cr4 = on ? cr4 | bit : cr4 & ~bit;
      cpu.setCr4(cr4);
      return {};
    }
    case "setEfer":
      if (s.nxe !== undefined) cpu.setEfer(s.nxe ? cpu.efer | EFER_NXE : cpu.efer & ~EFER_NXE);
      return {};
    case "setRflags":
      if (s.ac !== undefined) cpu.setAc(s.ac);
      return {};
  }
}

/** A step whose result differs from the scenario's `expect` entry. */
export interface ScenarioMismatch {
  step: number;
  op: string;
  expected: unknown;
  actual: unknown;
}

/**
 * Runs a scenario and compares each result with its `expect` entry (keys of the expected object
 * must match exactly; a "reason" in the result is ignored). Returns the mismatches.
 */
export function checkScenario(input: unknown): {
  result: ScenarioResult;
  mismatches: ScenarioMismatch[];
} {
  const scenario = parseScenario(input);
  const result = runScenario(input, { explain: true });
  const mismatches: ScenarioMismatch[] = [];
  const strip = (value: object | undefined) => {
    if (value === undefined) return undefined;
    const { reason: _reason, ...rest } = value as Record<string, unknown>;
    return rest;
  };
  if (scenario.expectSetup !== undefined || result.setup !== undefined) {
    const actual = strip(result.setup);
    if (JSON.stringify(actual) !== JSON.stringify(scenario.expectSetup)) {
      mismatches.push({
        step: -1,
        op: "setup",
        expected: scenario.expectSetup,
        actual: result.setup,
      });
    }
  }
  const expected = scenario.expect ?? [];
  if (
    scenario.expect !== undefined &&
    expected.length !== scenario.steps.length &&
    result.setup === undefined
  ) {
    mismatches.push({
      step: -1,
      op: "expect",
      expected: `${scenario.steps.length} entries`,
      actual: `${expected.length} entries`,
    });
  }
  expected.forEach((want, i) => {
    const got = result.steps[i];
    const sortKeys = (o: object | undefined) =>
      o === undefined ? undefined : Object.fromEntries(Object.entries(o).sort());
    if (JSON.stringify(sortKeys(strip(got))) !== JSON.stringify(sortKeys(want))) {
      mismatches.push({ step: i, op: scenario.steps[i]?.op ?? "?", expected: want, actual: got });
    }
  });
  return { result, mismatches };
}
