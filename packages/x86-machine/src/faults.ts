import { hex } from "@allockit/core";
import { describeErrorCode } from "./paging/entry-bits.js";
import { VECTOR_DF, VECTOR_GP, VECTOR_PF } from "./registers.js";

const BRAND = Symbol.for("allockit.MachineError");

/** Base of everything the machine raises: CPU exceptions and bus errors. */
export class MachineError extends Error {
  readonly [BRAND] = true;
  /** Readable lines explaining what happened and which rule caused it. */
  readonly explanation: readonly string[];

  constructor(message: string, explanation: readonly string[]) {
    super(explanation.length > 0 ? `${message}\n  ${explanation.join("\n  ")}` : message);
    this.name = new.target.name;
    this.explanation = explanation;
  }
}

/** True for any MachineError, also one raised by another copy of this package. */
export function isMachineError(error: unknown): error is MachineError {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true
  );
}

/** A CPU exception that reached the caller: vector, error code, and for #PF the CR2 value. */
export class CpuException extends MachineError {
  constructor(
    message: string,
    readonly vector: number,
    readonly errorCode: number,
    explanation: readonly string[],
  ) {
    super(message, explanation);
  }
}

/** What a page fault carries, as a fault handler sees it. */
export interface PageFaultInfo {
  /** The faulting linear address (CR2); packed 48-bit in long mode. */
  readonly address: number;
  readonly errorCode: number;
  readonly access: "read" | "write" | "fetch";
  readonly cpl: number;
  readonly implicit: boolean;
  /** Index of the CPU that faulted. */
  readonly cpu: number;
  /** Why: the rule that failed, in words. */
  readonly reason: string;
}

/** #PF that no handler resolved. */
export class PageFaultError extends CpuException {
  readonly cr2: number;
  readonly info: PageFaultInfo;

  constructor(info: PageFaultInfo, formattedAddress: string, extra: readonly string[] = []) {
    super(
      `#PF at ${formattedAddress} (error code ${hex(info.errorCode)}: ${describeErrorCode(info.errorCode)})`,
      VECTOR_PF,
      info.errorCode,
      [info.reason, ...extra],
    );
    this.cr2 = info.address;
    this.info = info;
  }
}

/** #GP: a non-canonical address, reserved PDPTE bits, a bad control-register value. */
export class GeneralProtectionError extends CpuException {
  constructor(reason: string) {
    super("#GP(0)", VECTOR_GP, 0, [reason]);
  }
}

/** #DF: an exception while delivering another (a page fault inside the fault handler). */
export class DoubleFaultError extends CpuException {
  constructor(
    readonly first: PageFaultInfo,
    readonly second: unknown,
  ) {
    super(`#DF: a fault while handling the page fault at ${hex(first.address)}`, VECTOR_DF, 0, [
      `first: ${first.reason}`,
      `then: ${second instanceof Error ? second.message : String(second)}`,
    ]);
  }
}

/** An access to a physical address that is not RAM (a hole or a reserved range) in strict mode. */
export class BusError extends MachineError {
  constructor(
    readonly address: number,
    readonly width: number,
    where: string,
  ) {
    super(`bus error: ${width}-byte access at physical ${hex(address)} ${where}`, []);
  }
}
