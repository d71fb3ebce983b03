import type { Memory } from "@allockit/core";

/** What turns a fault into a report: returns the error to throw in its place. */
export interface FaultExplainer {
  explainFault(error: unknown): unknown;
}

/**
 * The Memory callers reach guarded objects through: every access passes to the page source's
 * memory, and a fault it raises is handed to the heap, which replaces a fault in a guard page
 * or a quarantined range by a {@link GuardViolation} and lets any other error through as is.
 */
export class GuardMemory implements Memory {
  constructor(
    readonly inner: Memory,
    private readonly explainer: FaultExplainer,
  ) {}

  read8(addr: number): number {
    try {
      return this.inner.read8(addr);
    } catch (error) {
      throw this.explainer.explainFault(error);
    }
  }
  read16(addr: number): number {
    try {
      return this.inner.read16(addr);
    } catch (error) {
      throw this.explainer.explainFault(error);
    }
  }
  read32(addr: number): number {
    try {
      return this.inner.read32(addr);
    } catch (error) {
      throw this.explainer.explainFault(error);
    }
  }
  write8(addr: number, value: number): void {
    try {
      this.inner.write8(addr, value);
    } catch (error) {
      throw this.explainer.explainFault(error);
    }
  }
  write16(addr: number, value: number): void {
    try {
      this.inner.write16(addr, value);
    } catch (error) {
      throw this.explainer.explainFault(error);
    }
  }
  write32(addr: number, value: number): void {
    try {
      this.inner.write32(addr, value);
    } catch (error) {
      throw this.explainer.explainFault(error);
    }
  }
  fill(addr: number, byte: number, length: number): void {
    try {
      this.inner.fill(addr, byte, length);
    } catch (error) {
      throw this.explainer.explainFault(error);
    }
  }
  copy(dst: number, src: number, length: number): void {
    try {
      this.inner.copy(dst, src, length);
    } catch (error) {
      throw this.explainer.explainFault(error);
    }
  }
  readBytes(addr: number, length: number): Uint8Array {
    try {
      return this.inner.readBytes(addr, length);
    } catch (error) {
      throw this.explainer.explainFault(error);
    }
  }
  writeBytes(addr: number, bytes: Uint8Array): void {
    try {
      this.inner.writeBytes(addr, bytes);
    } catch (error) {
      throw this.explainer.explainFault(error);
    }
  }
}
