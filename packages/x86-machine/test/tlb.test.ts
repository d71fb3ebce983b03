import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { TLB_EMPTY, TLB_GLOBAL, Tlb } from "@allockit/x86-machine";

/** What an entry caches in the model: the slice's page number, its page size, global or not. */
interface ModelEntry {
  vpn: number;
  shift: number;
  global: boolean;
}

const SHIFTS = [12, 21, 22, 30] as const;

/** One TLB operation: fill a slice, INVLPG, or flush (keeping globals or not). */
const operation = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("fill" as const),
      // Page numbers in a few clusters, so INVLPGs land inside and outside large pages.
      vpn: fc.oneof(
        fc.integer({ min: 0, max: 4096 }),
        fc.integer({ min: 2 ** 35, max: 2 ** 35 + 600_000 }),
        fc.integer({ min: 2 ** 36 - 100, max: 2 ** 36 + 100 }),
      ),
      shift: fc.constantFrom(...SHIFTS),
      global: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("invlpg" as const),
      vpn: fc.oneof(
        fc.integer({ min: 0, max: 4096 }),
        fc.integer({ min: 2 ** 35, max: 2 ** 35 + 600_000 }),
        fc.integer({ min: 2 ** 36 - 100, max: 2 ** 36 + 100 }),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("flush" as const), keepGlobal: fc.boolean() }),
  },
);

describe("Tlb", () => {
  it("INVLPG drops the page's slice and every slice of a large page holding it, nothing else", () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 200 }), (ops) => {
        const tlb = new Tlb(256);
        const model = new Map<number, ModelEntry>();
        for (const step of ops) {
          if (step.op === "fill") {
            tlb.fill(step.vpn, step.vpn * 4096, step.global ? TLB_GLOBAL : 0, step.shift);
            model.set(step.vpn & tlb.mask, {
              vpn: step.vpn,
              shift: step.shift,
              global: step.global,
            });
          } else if (step.op === "invlpg") {
            tlb.invalidatePage(step.vpn * 4096 + 123);
            for (const [index, entry] of model) {
              const span = 2 ** (entry.shift - 12);
              if (
                entry.vpn === step.vpn ||
                (entry.shift > 12 && Math.floor(entry.vpn / span) === Math.floor(step.vpn / span))
              )
                model.delete(index);
            }
          } else {
            tlb.flush(step.keepGlobal);
            for (const [index, entry] of model)
              if (!(step.keepGlobal && entry.global)) model.delete(index);
          }
          for (let index = 0; index < tlb.size; index++) {
            expect(tlb.tag[index]).toBe(model.get(index)?.vpn ?? TLB_EMPTY);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("INVLPG at either edge of a large page drops its slices; just outside it does not", () => {
    for (const shift of [21, 22, 30]) {
      const span = 2 ** (shift - 12);
      const base = 7 * span;
      const tlb = new Tlb(1024);
      const slices = [base, base + 5, base + span - 1];
      const fillAll = (): void => {
        for (const vpn of slices) tlb.fill(vpn, vpn * 4096, 0, shift);
      };
      const cached = (): number => slices.filter((vpn) => tlb.tag[vpn & tlb.mask] === vpn).length;
      fillAll();
      tlb.invalidatePage((base - 1) * 4096);
      tlb.invalidatePage((base + span) * 4096);
      expect(cached()).toBe(3);
      for (const edge of [base, base + span - 1]) {
        fillAll();
        tlb.invalidatePage(edge * 4096 + 4095);
        expect(cached()).toBe(0);
      }
    }
  });
});
