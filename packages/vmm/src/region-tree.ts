import { AllocatorError, hex } from "@allockit/core";

/**
 * RegionTree: the set of mapped virtual-memory regions of an address space, as an augmented AVL
 * tree of disjoint half-open intervals [start, end) keyed by start.
 *
 * Why augmented: an mmap without a fixed address has to find free space, i.e. a *gap* between
 * two consecutive regions (or between the managed range's ends and the first/last region) that
 * can hold `size` bytes. Walking a sorted region list does that in O(n). Here every node also
 * summarises its whole subtree:
 *
 *   minStart  start of the lowest interval in the subtree (the leftmost node's start)
 *   maxEnd    end of the highest interval in the subtree (the rightmost node's end)
 *   maxGap    the largest gap *between two consecutive intervals of the subtree*
 *
 * All three are recomputed from the node and its two children in O(1) (see `pull`):
 *
 *   maxGap(n) = max(maxGap(left), left.maxEnd .. n.start,     // gap just below n
 *                   maxGap(right), n.end .. right.minStart)    // gap just above n
 *
 * because, with the intervals sorted and disjoint, the interval just below n is the rightmost of
 * its left subtree and the one just above is the leftmost of its right subtree. A subtree that
 * sits between a lower neighbour ending at `lo` and an upper neighbour starting at `hi` (both
 * outside it) therefore owns exactly these gaps: [lo, minStart), its internal gaps, and
 * [maxEnd, hi); the largest is max(minStart - lo, maxGap, hi - maxEnd), known in O(1). The gap
 * search descends from the root, skipping every subtree whose largest gap (clipped to the
 * search window) is too small, so with compatible alignment it follows O(1) root-to-leaf paths:
 * O(log n) work. Rotations and updates only touch nodes on one root-to-leaf path, and each of
 * those is re-pulled bottom-up, so keeping the summaries costs O(log n) per change as well.
 */

/** A region of the tree: [start, end) with its value. Handles stay valid until removed. */
export interface RegionNode<T> {
  readonly start: number;
  readonly end: number;
  value: T;
}

/** The tree's node: the public handle plus links, AVL height and the subtree summaries. */
class Node<T> implements RegionNode<T> {
  left: Node<T> | null = null;
  right: Node<T> | null = null;
  /** AVL height: 1 for a leaf. */
  height = 1;
  /** Start of the leftmost interval of the subtree. */
  minStart: number;
  /** End of the rightmost interval of the subtree. */
  maxEnd: number;
  /** Largest gap between consecutive intervals inside the subtree (0 for a leaf). */
  maxGap = 0;

  constructor(
    readonly start: number,
    public end: number,
    public value: T,
  ) {
    this.minStart = start;
    this.maxEnd = end;
  }
}

function heightOf<T>(n: Node<T> | null): number {
  return n === null ? 0 : n.height;
}

/** Recomputes a node's height and summaries from its children (which must be up to date). */
function pull<T>(n: Node<T>): void {
  const l = n.left;
  const r = n.right;
  let height = 0;
  let gap = 0;
  let minStart = n.start;
  let maxEnd = n.end;
  if (l !== null) {
    height = l.height;
    gap = Math.max(l.maxGap, n.start - l.maxEnd);
    minStart = l.minStart;
  }
  if (r !== null) {
    if (r.height > height) height = r.height;
    gap = Math.max(gap, r.maxGap, r.minStart - n.end);
    maxEnd = r.maxEnd;
  }
  n.height = height + 1;
  n.maxGap = gap;
  n.minStart = minStart;
  n.maxEnd = maxEnd;
}

function rotateRight<T>(n: Node<T>): Node<T> {
  const l = n.left as Node<T>;
  n.left = l.right;
  l.right = n;
  pull(n);
  pull(l);
  return l;
}

function rotateLeft<T>(n: Node<T>): Node<T> {
  const r = n.right as Node<T>;
  n.right = r.left;
  r.left = n;
  pull(n);
  pull(r);
  return r;
}

/** Re-pulls `n` and restores the AVL balance at it; returns the subtree's new root. */
function rebalance<T>(n: Node<T>): Node<T> {
  pull(n);
  const balance = heightOf(n.left) - heightOf(n.right);
  if (balance > 1) {
    const l = n.left as Node<T>;
    if (heightOf(l.left) < heightOf(l.right)) n.left = rotateLeft(l);
    return rotateRight(n);
  }
  if (balance < -1) {
    const r = n.right as Node<T>;
    if (heightOf(r.right) < heightOf(r.left)) n.right = rotateRight(r);
    return rotateLeft(n);
  }
  return n;
}

/** Deepest node level check() accepts: an AVL tree of 2^53 nodes is less than 78 high. */
const MAX_DEPTH = 80;

/** An address in hex, or anything else as text (for messages about bad values). */
function show(value: unknown): string {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0
    ? hex(value)
    : String(value);
}

function range(start: number, end: number): string {
  return `[${show(start)}, ${show(end)})`;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Lowest multiple of `align` at or above `x` (x >= 0; exact for safe integers). */
function alignUp(x: number, align: number): number {
  const rest = remainder(x, align);
  return rest === 0 ? x : x + (align - rest);
}

/**
 * `x % align` for a non-negative safe integer x and a positive integer align, without `%`:
 * addresses above 2^31 are doubles, for which `%` is a library call. The quotient may round up
 * to the next integer; the correction makes the result exact.
 */
function remainder(x: number, align: number): number {
  const rest = x - Math.floor(x / align) * align;
  return rest < 0 ? rest + align : rest;
}

/**
 * A set of disjoint half-open intervals [start, end) inside a managed range [low, high), each
 * carrying a value, with O(log n) insert, remove, lookup and gap search (see the file comment).
 * Addresses are non-negative safe integers; nothing assumes page alignment.
 */
export class RegionTree<T> {
  /** Lowest address of the managed range. */
  readonly low: number;
  /** End (exclusive) of the managed range. */
  readonly high: number;

  private root: Node<T> | null = null;
  private count = 0;
  private visits = 0;

  // Parameters of the running gap search, kept in fields so the recursion passes only bounds.
  private searchSize = 0;
  private searchAlign = 1;
  private searchFrom = 0;
  private searchTo = 0;

  // Out-parameters of the recursive removal (no allocation for a tuple).
  private removed: Node<T> | null = null;
  private detachedMin: Node<T> | null = null;

  /** A tree managing [low, high); throws EINVAL unless 0 <= low < high are safe integers. */
  constructor(low: number, high: number) {
    if (!isNonNegativeInteger(low)) {
      throw new AllocatorError("EINVAL", `region tree low ${String(low)} is not an address`, low);
    }
    if (!isNonNegativeInteger(high) || high <= low) {
      throw new AllocatorError(
        "EINVAL",
        `region tree high ${String(high)} is not an address above low ${hex(low)}`,
        high,
      );
    }
    this.low = low;
    this.high = high;
  }

  /** Number of intervals. */
  get size(): number {
    return this.count;
  }

  /** Nodes visited by the most recent {@link findGap} (a work measure for tests and benches). */
  get lastVisits(): number {
    return this.visits;
  }

  /** Height of the tree (0 when empty); AVL keeps it below 1.45 log2(size + 2). */
  height(): number {
    return heightOf(this.root);
  }

  /**
   * Adds [start, end) with `value` and returns its node. Throws EINVAL when the range is empty,
   * not made of safe integers or not inside [low, high); EFAULT when it overlaps an interval
   * (the tree is then unchanged).
   */
  insert(start: number, end: number, value: T): RegionNode<T> {
    this.checkRange("insert", start, end);
    const clash = this.firstOverlap(start, end);
    if (clash !== undefined) {
      throw new AllocatorError(
        "EFAULT",
        `region ${range(start, end)} overlaps region ${range(clash.start, clash.end)}`,
        start,
      );
    }
    const node = new Node(start, end, value);
    this.root = this.insertAt(this.root, node);
    this.count++;
    return node;
  }

  /** Removes the interval starting exactly at `start`; returns its value, or undefined if none. */
  remove(start: number): T | undefined {
    if (!Number.isSafeInteger(start)) return undefined;
    this.removed = null;
    this.root = this.removeAt(this.root, start);
    const node = this.removed as Node<T> | null;
    this.removed = null;
    if (node === null) return undefined;
    node.left = null;
    node.right = null;
    this.count--;
    return node.value;
  }

  /** The interval containing `addr`, if any. Throws EINVAL for a non-integer address. */
  find(addr: number): RegionNode<T> | undefined {
    this.checkAddress("find", addr);
    let n = this.root;
    while (n !== null) {
      if (addr < n.start) n = n.left;
      else if (addr >= n.end) n = n.right;
      else return n;
    }
    return undefined;
  }

  /**
   * The lowest interval overlapping [start, end) (undefined when none or when the range is
   * empty). Throws EINVAL for non-integer bounds.
   */
  firstOverlap(start: number, end: number): RegionNode<T> | undefined {
    this.checkAddress("firstOverlap", start);
    this.checkAddress("firstOverlap", end);
    // Ends are sorted like starts, so the lowest interval ending above `start` is the only
    // candidate: it overlaps if it also starts below `end`.
    let n = this.root;
    let candidate: Node<T> | null = null;
    while (n !== null) {
      if (n.end > start) {
        candidate = n;
        n = n.left;
      } else {
        n = n.right;
      }
    }
    return candidate !== null && candidate.start < end && start < end ? candidate : undefined;
  }

  /** All intervals overlapping [start, end), in address order. O(log n + k). */
  overlapping(start: number, end: number): RegionNode<T>[] {
    this.checkAddress("overlapping", start);
    this.checkAddress("overlapping", end);
    const out: RegionNode<T>[] = [];
    if (start < end) this.collect(this.root, start, end, out);
    return out;
  }

  /**
   * Moves the end of the interval starting at `start` to `newEnd` (grow into free space or
   * shrink). Throws EFAULT when no interval starts at `start` or when growing would overlap the
   * next interval; EINVAL when newEnd is not a safe integer in (start, high].
   */
  resize(start: number, newEnd: number): void {
    const node = this.nodeAt("resize", start);
    if (!Number.isSafeInteger(newEnd) || newEnd <= start || newEnd > this.high) {
      throw new AllocatorError(
        "EINVAL",
        `resize of region ${range(node.start, node.end)} to end ${String(newEnd)}: ` +
          `the end must be an integer in (${hex(start)}, ${hex(this.high)}]`,
        newEnd,
      );
    }
    if (newEnd > node.end) {
      const next = this.successor(start);
      if (next !== null && next.start < newEnd) {
        throw new AllocatorError(
          "EFAULT",
          `resize of region ${range(node.start, node.end)} to ${range(start, newEnd)} ` +
            `overlaps region ${range(next.start, next.end)}`,
          newEnd,
        );
      }
    }
    node.end = newEnd;
    // Only the summaries on the root-to-node path mention this end: re-pull them bottom-up.
    this.repullPath(this.root as Node<T>, start);
  }

  /**
   * Lowest (or, topDown, highest) address a with a % align === 0 such that [a, a+size) lies in a
   * gap and within [from, to) (defaults low/high; both are clamped to [low, high)). Returns -1
   * when nothing fits. Throws EINVAL unless size and align are positive safe integers and from/to
   * are integers. O(log n) when `align` divides the interval bounds and from/to; otherwise it
   * may look into more subtrees whose gaps are big enough before alignment, and stays correct.
   */
  findGap(size: number, align: number, topDown: boolean, from?: number, to?: number): number {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new AllocatorError(
        "EINVAL",
        `gap size ${String(size)} is not a positive integer`,
        size,
      );
    }
    if (!Number.isSafeInteger(align) || align <= 0) {
      throw new AllocatorError(
        "EINVAL",
        `gap alignment ${String(align)} is not a positive integer`,
        align,
      );
    }
    let lo = this.low;
    let hi = this.high;
    if (from !== undefined) {
      this.checkAddress("findGap", from);
      if (from > lo) lo = from;
    }
    if (to !== undefined) {
      this.checkAddress("findGap", to);
      if (to < hi) hi = to;
    }
    this.visits = 0;
    if (hi - lo < size) return -1;
    this.searchSize = size;
    this.searchAlign = align;
    this.searchFrom = lo;
    this.searchTo = hi;
    return topDown
      ? this.highestFit(this.root, this.low, this.high)
      : this.lowestFit(this.root, this.low, this.high);
  }

  /**
   * The free space after the interval starting at `start`: distance from its end to the next
   * interval's start, or to `high`. Throws EFAULT when no interval starts at `start`.
   */
  gapAfter(start: number): number {
    const node = this.nodeAt("gapAfter", start);
    const next = this.successor(start);
    return (next === null ? this.high : next.start) - node.end;
  }

  /** The lowest interval. */
  first(): RegionNode<T> | undefined {
    let n = this.root;
    if (n === null) return undefined;
    while (n.left !== null) n = n.left;
    return n;
  }

  /** The highest interval. */
  last(): RegionNode<T> | undefined {
    let n = this.root;
    if (n === null) return undefined;
    while (n.right !== null) n = n.right;
    return n;
  }

  /** The interval after `node` in address order (found by its start, O(log n)). */
  next(node: RegionNode<T>): RegionNode<T> | undefined {
    return this.successor(node.start) ?? undefined;
  }

  /** The interval before `node` in address order (found by its start, O(log n)). */
  prev(node: RegionNode<T>): RegionNode<T> | undefined {
    let n = this.root;
    let best: Node<T> | null = null;
    while (n !== null) {
      if (n.start < node.start) {
        best = n;
        n = n.right;
      } else {
        n = n.left;
      }
    }
    return best ?? undefined;
  }

  /** The intervals in address order. Do not modify the tree while iterating. */
  *[Symbol.iterator](): Iterator<RegionNode<T>> {
    const stack: Node<T>[] = [];
    let n = this.root;
    while (n !== null || stack.length > 0) {
      while (n !== null) {
        stack.push(n);
        n = n.left;
      }
      const top = stack.pop() as Node<T>;
      yield top;
      n = top.right;
    }
  }

  /** Removes every interval. */
  clear(): void {
    this.root = null;
    this.count = 0;
  }

  /**
   * Verifies the whole tree in O(n): bounds inside [low, high), ordering and disjointness, the
   * count, AVL heights and balance, and every summary (minStart, maxEnd, maxGap). Throws
   * ECORRUPT naming the node and the field that is wrong.
   */
  check(): void {
    const state = { prevEnd: this.low, nodes: 0 };
    this.checkNode(this.root, state, 1);
    if (state.nodes !== this.count) {
      throw new AllocatorError(
        "ECORRUPT",
        `region tree holds ${state.nodes} nodes but its size is ${this.count}`,
        this.count,
      );
    }
  }

  // ---- internals ----

  private insertAt(n: Node<T> | null, node: Node<T>): Node<T> {
    if (n === null) return node;
    if (node.start < n.start) n.left = this.insertAt(n.left, node);
    else n.right = this.insertAt(n.right, node);
    return rebalance(n);
  }

  /** Removes the node starting at `start` from the subtree; sets `removed`; returns new root. */
  private removeAt(n: Node<T> | null, start: number): Node<T> | null {
    if (n === null) return null;
    if (start < n.start) {
      n.left = this.removeAt(n.left, start);
    } else if (start > n.start) {
      n.right = this.removeAt(n.right, start);
    } else {
      this.removed = n;
      if (n.left === null) return n.right;
      if (n.right === null) return n.left;
      // Two children: the successor node itself (not a copy: callers hold node handles) takes
      // n's place.
      const right = this.detachMin(n.right);
      const m = this.detachedMin as Node<T>;
      this.detachedMin = null;
      m.left = n.left;
      m.right = right;
      return rebalance(m);
    }
    return rebalance(n);
  }

  /** Unlinks the leftmost node of the subtree into `detachedMin`; returns the new root. */
  private detachMin(n: Node<T>): Node<T> | null {
    if (n.left === null) {
      this.detachedMin = n;
      return n.right;
    }
    n.left = this.detachMin(n.left);
    return rebalance(n);
  }

  private repullPath(n: Node<T>, start: number): void {
    if (start < n.start) this.repullPath(n.left as Node<T>, start);
    else if (start > n.start) this.repullPath(n.right as Node<T>, start);
    pull(n);
  }

  /** The node starting exactly at `start`, or null. */
  private lookup(start: number): Node<T> | null {
    let n = this.root;
    while (n !== null && n.start !== start) n = start < n.start ? n.left : n.right;
    return n;
  }

  private nodeAt(operation: string, start: number): Node<T> {
    const node = Number.isSafeInteger(start) ? this.lookup(start) : null;
    if (node === null) {
      throw new AllocatorError("EFAULT", `${operation}: no region starts at ${show(start)}`, start);
    }
    return node;
  }

  /** The lowest node starting above `start`, or null. */
  private successor(start: number): Node<T> | null {
    let n = this.root;
    let best: Node<T> | null = null;
    while (n !== null) {
      if (n.start > start) {
        best = n;
        n = n.left;
      } else {
        n = n.right;
      }
    }
    return best;
  }

  private collect(n: Node<T> | null, start: number, end: number, out: RegionNode<T>[]): void {
    // Prune with the summaries: nothing in this subtree reaches into [start, end).
    if (n === null || n.maxEnd <= start || n.minStart >= end) return;
    this.collect(n.left, start, end, out);
    if (n.end > start && n.start < end) out.push(n);
    this.collect(n.right, start, end, out);
  }

  /**
   * True when the subtree `n`, lying between a lower neighbour ending at `lo` and an upper one
   * starting at `hi`, cannot contain a fit: its window [lo, hi) clipped to [from, to) is too
   * short, or its largest gap (including the two outer ones) is.
   */
  private hopeless(n: Node<T>, lo: number, hi: number): boolean {
    const size = this.searchSize;
    const clippedLo = lo > this.searchFrom ? lo : this.searchFrom;
    const clippedHi = hi < this.searchTo ? hi : this.searchTo;
    if (clippedHi - clippedLo < size) return true;
    return n.maxGap < size && n.minStart - lo < size && hi - n.maxEnd < size;
  }

  /** Lowest aligned fit in the single gap [lo, hi), clipped to the window; -1 if none. */
  private fitLow(lo: number, hi: number): number {
    const bottom = lo > this.searchFrom ? lo : this.searchFrom;
    const top = hi < this.searchTo ? hi : this.searchTo;
    if (top - bottom < this.searchSize) return -1;
    const a = alignUp(bottom, this.searchAlign);
    return a + this.searchSize <= top ? a : -1;
  }

  /** Highest aligned fit in the single gap [lo, hi), clipped to the window; -1 if none. */
  private fitHigh(lo: number, hi: number): number {
    const bottom = lo > this.searchFrom ? lo : this.searchFrom;
    const top = hi < this.searchTo ? hi : this.searchTo;
    if (top - bottom < this.searchSize) return -1;
    const limit = top - this.searchSize; // >= bottom >= 0
    const a = limit - remainder(limit, this.searchAlign);
    return a >= bottom ? a : -1;
  }

  /** Lowest fit among the gaps of subtree `n` lying in [lo, hi) (see `hopeless`). */
  private lowestFit(n: Node<T> | null, lo: number, hi: number): number {
    if (n === null) return this.fitLow(lo, hi);
    this.visits++;
    if (this.hopeless(n, lo, hi)) return -1;
    const below = this.lowestFit(n.left, lo, n.start);
    if (below >= 0) return below;
    return this.lowestFit(n.right, n.end, hi);
  }

  /** Highest fit among the gaps of subtree `n` lying in [lo, hi): the mirror of lowestFit. */
  private highestFit(n: Node<T> | null, lo: number, hi: number): number {
    if (n === null) return this.fitHigh(lo, hi);
    this.visits++;
    if (this.hopeless(n, lo, hi)) return -1;
    const above = this.highestFit(n.right, n.end, hi);
    if (above >= 0) return above;
    return this.highestFit(n.left, lo, n.start);
  }

  private checkRange(operation: string, start: number, end: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) {
      throw new AllocatorError(
        "EINVAL",
        `${operation}: region bounds ${String(start)}, ${String(end)} are not integers`,
        start,
      );
    }
    if (start >= end) {
      throw new AllocatorError(
        "EINVAL",
        `${operation}: region ${range(start, end)} is empty or reversed`,
        start,
      );
    }
    if (start < this.low || end > this.high) {
      throw new AllocatorError(
        "EINVAL",
        `${operation}: region ${range(start, end)} is outside ${range(this.low, this.high)}`,
        start,
      );
    }
  }

  private checkAddress(operation: string, addr: number): void {
    if (!Number.isSafeInteger(addr)) {
      throw new AllocatorError("EINVAL", `${operation}: ${String(addr)} is not an integer`, addr);
    }
  }

  private checkNode(
    n: Node<T> | null,
    state: { prevEnd: number; nodes: number },
    depth: number,
  ): void {
    if (n === null) return;
    // AVL height stays below 1.45 log2(n + 2): deeper means a cycle or a broken balance.
    if (depth > MAX_DEPTH)
      this.corrupt(n, `lies deeper than ${MAX_DEPTH} levels (a cycle?)`, depth);
    this.checkNode(n.left, state, depth + 1);
    // In-order position: every region before this one has been checked.
    if (!Number.isSafeInteger(n.start) || !Number.isSafeInteger(n.end) || n.start >= n.end) {
      this.corrupt(n, "bounds are not a non-empty integer range", n.start);
    }
    if (n.start < this.low || n.end > this.high) {
      this.corrupt(n, `lies outside ${range(this.low, this.high)}`, n.start);
    }
    if (state.nodes > 0 && n.start < state.prevEnd) {
      this.corrupt(n, `starts below the end ${hex(state.prevEnd)} of the previous region`, n.start);
    }
    state.prevEnd = n.end;
    state.nodes++;
    this.checkNode(n.right, state, depth + 1);

    // Both children are verified now, so their summaries can be trusted to check this node's.
    const lh = heightOf(n.left);
    const rh = heightOf(n.right);
    const height = Math.max(lh, rh) + 1;
    if (n.height !== height) this.corrupt(n, `height ${n.height} should be ${height}`, n.height);
    if (Math.abs(lh - rh) > 1) {
      this.corrupt(n, `unbalanced: children heights ${lh} and ${rh}`, lh - rh);
    }
    const minStart = n.left === null ? n.start : n.left.minStart;
    if (n.minStart !== minStart) {
      this.corrupt(n, `minStart ${show(n.minStart)} should be ${hex(minStart)}`, n.minStart);
    }
    const maxEnd = n.right === null ? n.end : n.right.maxEnd;
    if (n.maxEnd !== maxEnd) {
      this.corrupt(n, `maxEnd ${show(n.maxEnd)} should be ${hex(maxEnd)}`, n.maxEnd);
    }
    let maxGap = 0;
    if (n.left !== null) maxGap = Math.max(n.left.maxGap, n.start - n.left.maxEnd);
    if (n.right !== null) maxGap = Math.max(maxGap, n.right.maxGap, n.right.minStart - n.end);
    if (n.maxGap !== maxGap) {
      this.corrupt(n, `maxGap ${show(n.maxGap)} should be ${hex(maxGap)}`, n.maxGap);
    }
  }

  private corrupt(n: Node<T>, what: string, value: unknown): never {
    throw new AllocatorError(
      "ECORRUPT",
      `region tree node [${show(n.start)}, ${show(n.end)}): ${what}`,
      value,
    );
  }
}
