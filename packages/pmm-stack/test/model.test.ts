import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PAGE_SIZE, ZONES, zoneOf, type Zone } from "@allockit/core";
import { LAYOUTS, errorCode, isManaged, machine } from "./helpers.js";

type Operation =
  | { kind: "alloc"; zone: Zone | undefined; times: number }
  | { kind: "free"; pick: number }
  | { kind: "freeAgain"; pick: number }
  | { kind: "reserve"; offsetFrames: number; frames: number }
  | { kind: "check" };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("alloc" as const),
      zone: fc.option(fc.constantFrom(...ZONES), { nil: undefined }),
      times: fc.integer({ min: 1, max: 300 }),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("freeAgain" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("reserve" as const),
      offsetFrames: fc.nat({ max: 40_000 }),
      frames: fc.integer({ min: 1, max: 64 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("check" as const) }) },
);

describe.each(LAYOUTS)("model-based runs (%s links)", (framesPerLink) => {
  it("agrees with a set of live frames over random operation sequences", () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
        const { pmm, managed } = machine("qemu-i440fx-128m", { framesPerLink });
        const live: number[] = [];
        const freed: number[] = [];
        const reserved = new Set<number>();
        let free = pmm.stats().freeFrames;
        for (const op of operations) {
          if (op.kind === "alloc") {
            for (let i = 0; i < op.times; i++) {
              const addr = pmm.allocFrames(
                1,
                op.zone === undefined ? undefined : { zone: op.zone },
              );
              if (addr === 0) {
                const zoneFree =
                  op.zone === undefined ? free : pmm.stats().zones[op.zone].freeFrames;
                expect(zoneFree).toBe(0);
                break;
              }
              expect(isManaged(managed, addr)).toBe(true);
              expect(reserved.has(addr)).toBe(false);
              if (op.zone !== undefined) expect(zoneOf(addr)).toBe(op.zone);
              expect(live.includes(addr)).toBe(false);
              live.push(addr);
              free--;
            }
          } else if (op.kind === "free" && live.length > 0) {
            const [addr] = live.splice(op.pick % live.length, 1);
            pmm.freeFrames(addr!, 1);
            freed.push(addr!);
            free++;
          } else if (op.kind === "freeAgain" && freed.length > 0) {
            const addr = freed[op.pick % freed.length]!;
            if (!live.includes(addr)) {
              expect(errorCode(() => pmm.freeFrames(addr, 1))).toBe(
                reserved.has(addr) ? "EFAULT" : "EDOUBLEFREE",
              );
            }
          } else if (op.kind === "reserve") {
            const base = 16 * 1024 * 1024 + op.offsetFrames * PAGE_SIZE;
            const frames = Array.from({ length: op.frames }, (_, i) => base + i * PAGE_SIZE);
            const managedFree = frames.filter((a) => isManaged(managed, a) && !reserved.has(a));
            if (frames.some((a) => live.includes(a))) {
              expect(errorCode(() => pmm.reserve({ base, length: op.frames * PAGE_SIZE }))).toBe(
                "EINVAL",
              );
            } else {
              pmm.reserve({ base, length: op.frames * PAGE_SIZE });
              for (const a of managedFree) reserved.add(a);
              free -= managedFree.length;
            }
          } else if (op.kind === "check") {
            pmm.check();
          }
          const stats = pmm.stats();
          expect(stats.freeFrames).toBe(free);
          expect(stats.usedFrames).toBe(live.length);
        }
        pmm.check();
      }),
      { numRuns: 60 },
    );
  });
});
