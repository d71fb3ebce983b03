import { describe, expect, it } from "vitest";
import { formatBench, runBench } from "@allockit/bench";

// Exercises the bench code paths at tiny sizes; no timing is asserted anywhere.
describe("pnpm bench --quick", () => {
  it("measures every table and formats them", () => {
    const results = runBench({ quick: true });
    expect(results.mmu.tlbHitRead32OpsPerSec).toBeGreaterThan(0);
    expect(results.mmu.dataViewRead32OpsPerSec).toBeGreaterThan(0);
    expect(results.sparseMachine.touchedPages).toBeGreaterThanOrEqual(5); // 4 tables + the page
    expect(results.sparseMachine.touchedPages).toBeLessThan(16);
    const text = formatBench(results);
    expect(text).toContain("read32");
    expect(text).toContain("Sparse machine");
  });
});
