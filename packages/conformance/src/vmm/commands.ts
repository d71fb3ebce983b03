import type { RegionKind } from "@allockit/core";
import fc from "fast-check";
import type { AccessKind, AccessWidth } from "./access.js";
import {
  AccessCommand,
  ReadBackCommand,
  STALE_CHANGES,
  StaleProbeCommand,
  TouchCommand,
} from "./access-commands.js";
import type { AccessSpec } from "./access-commands.js";
import { BAD_CALL_KINDS } from "./bad-calls.js";
import {
  ActivateCommand,
  BadCallCommand,
  CommitCommand,
  CreateSpaceCommand,
  DestroySpaceCommand,
  MapCommand,
  ProtectCommand,
  UnmapCommand,
} from "./space-commands.js";
import type { MapSpec, Placement, ProtectShape, UnmapShape, VmmCommand } from "./space-commands.js";
import { TARGET_KINDS } from "./targets.js";
import type { Picks } from "./targets.js";

export type { VmmCommand } from "./space-commands.js";

const pick = fc.nat({ max: 0xffff });
const picks: fc.Arbitrary<Picks> = fc.record({ a: pick, b: pick, c: pick });
const cpuArb = fc.nat({ max: 1 });

const KIND_WEIGHTS: readonly [RegionKind, number][] = [
  ["anonymous", 4],
  ["heap", 2],
  ["stack", 2],
  ["guard", 1],
  ["fixed", 2],
];

const mapSpec: fc.Arbitrary<MapSpec> = fc.record({
  space: pick,
  kind: fc.oneof(
    ...KIND_WEIGHTS.map(([kind, weight]) => ({ weight, arbitrary: fc.constant(kind) })),
  ),
  pages: fc.integer({ min: 1, max: 8 }),
  write: fc.boolean(),
  user: fc.boolean(),
  defaultProtection: fc.oneof(
    { weight: 4, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  commit: fc.oneof(
    { weight: 3, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  placement: fc.oneof(
    { weight: 5, arbitrary: fc.constant<Placement>("search") },
    { weight: 2, arbitrary: fc.constant<Placement>("topDown") },
    { weight: 1, arbitrary: fc.constant<Placement>("align") },
    { weight: 4, arbitrary: fc.constant<Placement>("at") },
  ),
  alignShift: fc.integer({ min: 13, max: 16 }),
  pick,
  fraction: fc.nat({ max: 0xffffffff }),
});

const accessSpec = (kind: AccessKind): fc.Arbitrary<AccessSpec> =>
  fc.record({
    kind: fc.constant(kind),
    cpu: cpuArb,
    cpl: fc.constantFrom<0 | 3>(0, 3),
    width: fc.constantFrom<AccessWidth>(1, 4),
    target: fc.oneof(
      ...TARGET_KINDS.map((t) => ({
        weight: t === "written" || t === "region" ? 4 : t === "gone" || t === "guard" ? 2 : 1,
        arbitrary: fc.constant(t),
      })),
    ),
    picks,
    seed: fc.nat(),
  });

/** The weighted mix of commands a model run draws from. */
export function vmmCommandArbitraries(): fc.Arbitrary<VmmCommand>[] {
  const weighted: fc.WeightedArbitrary<VmmCommand>[] = [
    {
      weight: 10,
      arbitrary: fc
        .option(cpuArb, { freq: 4, nil: undefined })
        .map((cpu): VmmCommand => new CreateSpaceCommand(cpu)),
    },
    { weight: 1, arbitrary: pick.map((p): VmmCommand => new DestroySpaceCommand(p)) },
    {
      weight: 6,
      arbitrary: fc.tuple(pick, cpuArb).map(([s, c]): VmmCommand => new ActivateCommand(s, c)),
    },
    { weight: 16, arbitrary: mapSpec.map((s): VmmCommand => new MapCommand(s)) },
    {
      weight: 8,
      arbitrary: fc
        .tuple(pick, fc.constantFrom<UnmapShape>("whole", "part", "span", "gap"), picks)
        .map(([s, shape, p]): VmmCommand => new UnmapCommand(s, shape, p)),
    },
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          pick,
          fc.constantFrom<ProtectShape>("one", "part", "span"),
          picks,
          fc.boolean(),
          fc.boolean(),
        )
        .map(([s, shape, p, w, u]): VmmCommand => new ProtectCommand(s, shape, p, w, u)),
    },
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.boolean(), pick, picks)
        .map(([d, s, p]): VmmCommand => new CommitCommand(d, s, p)),
    },
    { weight: 14, arbitrary: accessSpec("read").map((s): VmmCommand => new AccessCommand(s)) },
    { weight: 12, arbitrary: accessSpec("write").map((s): VmmCommand => new AccessCommand(s)) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(pick, pick, cpuArb, fc.nat())
        .map(([s, p, c, seed]): VmmCommand => new TouchCommand(s, p, c, seed)),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(pick, pick, cpuArb)
        .map(([s, p, c]): VmmCommand => new ReadBackCommand(s, p, c)),
    },
    {
      weight: 8,
      arbitrary: fc
        .tuple(pick, picks, fc.constantFrom(...STALE_CHANGES), fc.boolean(), fc.nat())
        .map(
          ([s, p, change, rev, seed]): VmmCommand => new StaleProbeCommand(s, p, change, rev, seed),
        ),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...BAD_CALL_KINDS), pick, picks)
        .map(([k, s, p]): VmmCommand => new BadCallCommand(k, s, p)),
    },
  ];
  return [fc.oneof(...weighted)];
}
