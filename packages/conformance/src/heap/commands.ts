import fc from "fast-check";
import { FOREIGN_KINDS, FREE_ORDERS } from "./harness.js";
import type { ForeignKind, FreeOrder, HeapHarness, HeapProfile } from "./harness.js";
import { badAllocArguments } from "./bad-arguments.js";
import type { BadArgument } from "./bad-arguments.js";

/**
 * The random operations of the model run. The model is the harness's record of live blocks, so
 * model and real system are the same object. Commands that act on a block name it as
 * `live[k]`: the k-th live block, oldest first, k taken modulo the number of live blocks, so a
 * shrunk sequence stays meaningful when earlier commands are dropped.
 */
export type HeapCommand = fc.Command<HeapHarness, HeapHarness>;

class AllocCommand implements HeapCommand {
  constructor(
    readonly size: number,
    readonly align: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(_model: HeapHarness, harness: HeapHarness): void {
    harness.step(() => harness.allocate(this.size, this.align));
  }
  toString(): string {
    return `heap_alloc(${this.size}, ${this.align})`;
  }
}

class FreeCommand implements HeapCommand {
  constructor(readonly pick: number) {}
  check(model: Readonly<HeapHarness>): boolean {
    return model.live.length > 0;
  }
  run(_model: HeapHarness, harness: HeapHarness): void {
    harness.step(() => harness.free(harness.live[this.pick % harness.live.length]!));
  }
  toString(): string {
    return `heap_free(live[${this.pick}])`;
  }
}

class SizeCommand implements HeapCommand {
  constructor(readonly pick: number) {}
  check(model: Readonly<HeapHarness>): boolean {
    return model.live.length > 0;
  }
  run(_model: HeapHarness, harness: HeapHarness): void {
    harness.step(() => harness.expectSize(harness.live[this.pick % harness.live.length]!));
  }
  toString(): string {
    return `heap_size(live[${this.pick}])`;
  }
}

class ReallocCommand implements HeapCommand {
  /** `pick` undefined means realloc(NULL, size). */
  constructor(
    readonly pick: number | undefined,
    readonly size: number,
  ) {}
  check(model: Readonly<HeapHarness>): boolean {
    return this.pick === undefined || model.live.length > 0;
  }
  run(_model: HeapHarness, harness: HeapHarness): void {
    const block =
      this.pick === undefined ? undefined : harness.live[this.pick % harness.live.length]!;
    harness.step(() => harness.realloc(block, this.size));
  }
  toString(): string {
    return `realloc(${this.pick === undefined ? "NULL" : `live[${this.pick}]`}, ${this.size})`;
  }
}

class WriteCommand implements HeapCommand {
  constructor(readonly pick: number) {}
  check(model: Readonly<HeapHarness>): boolean {
    return model.live.length > 0;
  }
  run(_model: HeapHarness, harness: HeapHarness): void {
    harness.step(() => harness.rewrite(harness.live[this.pick % harness.live.length]!));
  }
  toString(): string {
    return `write(live[${this.pick}])`;
  }
}

/** Names the pointer a foreign-pointer command aims at, for toString. */
function foreignName(kind: ForeignKind, pick: number, offset: number): string {
  switch (kind) {
    case "interior":
      return `interior of live[${pick}], offset ${offset}`;
    case "past-end":
      return `just past live[${pick}]`;
    case "freed":
      return `freed[${pick}]`;
    case "outside":
      return `outside, offset ${offset}`;
    case "null-page":
      return `page 0, offset ${offset}`;
  }
}

function foreignApplies(model: Readonly<HeapHarness>, kind: ForeignKind): boolean {
  if (kind === "interior" || kind === "past-end") return model.live.length > 0;
  if (kind === "freed") return model.freedCount > 0;
  return true;
}

/** heap_size of a pointer the heap did not hand out must be 0. */
class ProbeCommand implements HeapCommand {
  constructor(
    readonly kind: ForeignKind,
    readonly pick: number,
    readonly offset: number,
  ) {}
  check(model: Readonly<HeapHarness>): boolean {
    return foreignApplies(model, this.kind);
  }
  run(_model: HeapHarness, harness: HeapHarness): void {
    harness.step(() => {
      const target = harness.foreignPointer(this.kind, this.pick, this.offset);
      if (target === undefined) harness.note(`${this.toString()} skipped: no such pointer now`);
      else harness.expectUnknown(target.ptr, target.what);
    });
  }
  toString(): string {
    return `heap_size(${foreignName(this.kind, this.pick, this.offset)})`;
  }
}

/** heap_free of a pointer the heap did not hand out must throw and change nothing. */
class BadFreeCommand implements HeapCommand {
  constructor(
    readonly kind: ForeignKind,
    readonly pick: number,
    readonly offset: number,
  ) {}
  check(model: Readonly<HeapHarness>): boolean {
    return foreignApplies(model, this.kind);
  }
  run(_model: HeapHarness, harness: HeapHarness): void {
    harness.step(() => {
      const target = harness.foreignPointer(this.kind, this.pick, this.offset);
      if (target === undefined) harness.note(`${this.toString()} skipped: no such pointer now`);
      else harness.expectRejectedFree(target.ptr, target.what);
    });
  }
  toString(): string {
    return `heap_free(${foreignName(this.kind, this.pick, this.offset)})`;
  }
}

/** A malformed heap_alloc must throw EINVAL and change nothing, whatever the heap's state. */
class BadAllocCommand implements HeapCommand {
  constructor(readonly row: BadArgument) {}
  check(): boolean {
    return true;
  }
  run(_model: HeapHarness, harness: HeapHarness): void {
    harness.step(() => harness.expectInvalidArgument(this.row));
  }
  toString(): string {
    return `${this.row.call} [must throw EINVAL]`;
  }
}

class CheckCommand implements HeapCommand {
  check(): boolean {
    return true;
  }
  run(_model: HeapHarness, harness: HeapHarness): void {
    // step() already runs check() and every invariant; this command just adds a checkpoint.
    harness.step(() => harness.note("check()"));
  }
  toString(): string {
    return "check()";
  }
}

class FreeAllCommand implements HeapCommand {
  constructor(readonly order: FreeOrder) {}
  check(model: Readonly<HeapHarness>): boolean {
    return model.live.length > 0;
  }
  run(_model: HeapHarness, harness: HeapHarness): void {
    harness.step(() => harness.freeAll(this.order));
  }
  toString(): string {
    return `freeAll(${this.order})`;
  }
}

export interface CommandLimits {
  readonly maxBlockSize: number;
  /** Largest alignment to try (already capped to the heap's maxAlign). */
  readonly maxAlign: number;
}

/** Block sizes from 0 to `maxBlockSize`, biased to small ones, with page-boundary favourites. */
export function blockSizeArbitrary(
  profile: HeapProfile,
  maxBlockSize: number,
): fc.Arbitrary<number> {
  const page = profile.pageSize;
  const bands: [number, number, number][] = [
    [8, 0, 64],
    [4, 65, 512],
    [2, 513, page],
    [1, page + 1, maxBlockSize],
  ];
  const choices: fc.WeightedArbitrary<number>[] = [];
  for (const [weight, min, max] of bands) {
    const top = Math.min(max, maxBlockSize);
    if (min <= top) choices.push({ weight, arbitrary: fc.integer({ min, max: top }) });
  }
  const favourites = [0, 1, 8, 16, page - 1, page, page + 1, 2 * page].filter(
    (size) => size <= maxBlockSize,
  );
  choices.push({ weight: 2, arbitrary: fc.constantFrom(...favourites) });
  return fc.oneof(...choices);
}

/** Alignments 0 (default), 1, 2, 4 ... `maxAlign`, mostly the default. */
export function alignmentArbitrary(maxAlign: number): fc.Arbitrary<number> {
  const powers: number[] = [];
  for (let align = 1; align <= maxAlign; align *= 2) powers.push(align);
  const small = powers.filter((align) => align <= 16);
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(0) },
    { weight: 3, arbitrary: fc.constantFrom(...small) },
    { weight: 2, arbitrary: fc.constantFrom(...powers) },
  );
}

/** The weighted mix of commands a model run draws from. */
export function heapCommandArbitraries(
  profile: HeapProfile,
  limits: CommandLimits,
): fc.Arbitrary<HeapCommand>[] {
  const size = blockSizeArbitrary(profile, limits.maxBlockSize);
  const pick = fc.nat({ max: 63 });
  const offset = fc.nat({ max: 4095 });
  const kind = fc.constantFrom<ForeignKind>(...FOREIGN_KINDS);
  const command = fc.oneof(
    {
      weight: 12,
      arbitrary: fc
        .tuple(size, alignmentArbitrary(limits.maxAlign))
        .map(([s, a]): HeapCommand => new AllocCommand(s, a)),
    },
    { weight: 7, arbitrary: pick.map((p): HeapCommand => new FreeCommand(p)) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(
          fc.option(pick, { freq: 6 }),
          fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 6, arbitrary: size }),
        )
        .map(([p, s]): HeapCommand => new ReallocCommand(p ?? undefined, s)),
    },
    { weight: 2, arbitrary: pick.map((p): HeapCommand => new SizeCommand(p)) },
    { weight: 2, arbitrary: pick.map((p): HeapCommand => new WriteCommand(p)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(kind, pick, offset)
        .map(([k, p, o]): HeapCommand => new ProbeCommand(k, p, o)),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(kind, pick, offset)
        .map(([k, p, o]): HeapCommand => new BadFreeCommand(k, p, o)),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(...badAllocArguments(profile.maxAlign))
        .map((row): HeapCommand => new BadAllocCommand(row)),
    },
    { weight: 1, arbitrary: fc.constant<HeapCommand>(new CheckCommand()) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom<FreeOrder>(...FREE_ORDERS)
        .map((order): HeapCommand => new FreeAllCommand(order)),
    },
  );
  return [command];
}
