import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { gunzipSync } from "node:zlib";
import { AllocatorError } from "../errors.js";

/** Operation codes of a parsed trace. */
export const TRACE_ALLOC = 1;
export const TRACE_FREE = 2;
export const TRACE_REALLOC = 3;

/**
 * An allocation trace in columns (one entry per operation), ready to replay without parsing or
 * allocating anything per operation:
 *
 * | op | `ids[i]` | `newIds[i]` | `sizes[i]` | `aligns[i]` |
 * | --- | --- | --- | --- | --- |
 * | TRACE_ALLOC `a ID SIZE ALIGN` | ID | 0 | SIZE | ALIGN |
 * | TRACE_FREE `f ID` | ID | 0 | 0 | 0 |
 * | TRACE_REALLOC `r OLD NEW SIZE` | OLD | NEW | SIZE | 0 |
 */
export interface Trace {
  /** The trace's name: its file name without `.gz` and `.trc`. */
  readonly name: string;
  readonly length: number;
  readonly ops: Uint8Array;
  readonly ids: Uint32Array;
  readonly newIds: Uint32Array;
  readonly sizes: Float64Array;
  readonly aligns: Float64Array;
  /** The largest block ID in the trace. */
  readonly maxId: number;
  readonly counts: { readonly alloc: number; readonly free: number; readonly realloc: number };
}

/** The name of a trace file: `dir/python-ast.trc.gz` is `python-ast`. */
export function traceName(file: string): string {
  return basename(file)
    .replace(/\.gz$/, "")
    .replace(/\.trc$/, "");
}

/** Reads a trace file (gzip-compressed when its name ends in `.gz`) and parses it. */
export function readTraceFile(file: string, maxOps = Infinity): Trace {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
    if (file.endsWith(".gz")) bytes = gunzipSync(bytes);
  } catch (error) {
    throw new AllocatorError(
      "EINVAL",
      `cannot read trace ${file}: ${(error as Error).message}`,
      file,
      { cause: error },
    );
  }
  return parseTrace(bytes.toString("latin1"), traceName(file), maxOps);
}

/** Grows a typed array to at least `need` entries. */
function grown<T extends Uint8Array | Uint32Array | Float64Array>(array: T, need: number): T {
  if (need <= array.length) return array;
  const next = new (array.constructor as new (n: number) => T)(Math.max(need, array.length * 2));
  next.set(array);
  return next;
}

/**
 * Parses the text form (see fixtures/traces/README.md): `a ID SIZE ALIGN`, `f ID`,
 * `r OLD NEW SIZE`, one per line; blank lines and lines starting with `#` are skipped. Checks
 * what a replay relies on: IDs are positive and never reused, a freed or reallocated ID is live,
 * sizes and alignments are integers. A malformed line is an EINVAL error naming the trace, the
 * line number and the line. At most `maxOps` operations are read.
 */
export function parseTrace(text: string, name = "trace", maxOps = Infinity): Trace {
  let capacity = 1024;
  let ops = new Uint8Array(capacity);
  let ids = new Uint32Array(capacity);
  let newIds = new Uint32Array(capacity);
  let sizes = new Float64Array(capacity);
  let aligns = new Float64Array(capacity);
  // 0 = not seen, 1 = live, 2 = gone.
  let state = new Uint8Array(1024);
  let maxId = 0;
  const counts = { alloc: 0, free: 0, realloc: 0 };
  let length = 0;
  let lineNumber = 0;
  let position = 0;
  const fields: number[] = [0, 0, 0, 0];

  const fail = (line: string, why: string): never => {
    throw new AllocatorError(
      "EINVAL",
      `trace ${name} line ${lineNumber}: ${why}: ${JSON.stringify(line.slice(0, 80))}`,
      line,
    );
  };
  const mark = (id: number, line: string, want: number, next: number, what: string): void => {
    if (id >= state.length) state = grown(state, id + 1);
    if (state[id] !== want) {
      fail(
        line,
        want === 0
          ? `ID ${id} is used again (${what})`
          : `ID ${id} is not live (${what}: ${state[id] === 0 ? "never allocated" : "already gone"})`,
      );
    }
    state[id] = next;
    if (id > maxId) maxId = id;
  };

  while (position < text.length && length < maxOps) {
    let end = text.indexOf("\n", position);
    if (end < 0) end = text.length;
    const line = text.slice(position, end).trim();
    position = end + 1;
    lineNumber++;
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    const op = parts[0];
    const arity = op === "a" || op === "r" ? 3 : op === "f" ? 1 : -1;
    if (arity < 0) fail(line, `unknown operation ${JSON.stringify(op)} (a, f or r)`);
    if (parts.length !== arity + 1) fail(line, `${op} takes ${arity} number(s)`);
    for (let i = 1; i <= arity; i++) {
      const value = Number(parts[i]);
      if (!/^\d+$/.test(parts[i]!) || !Number.isSafeInteger(value))
        fail(line, `${JSON.stringify(parts[i])} is not a non-negative integer`);
      fields[i - 1] = value;
    }
    if (length === capacity) {
      capacity *= 2;
      ops = grown(ops, capacity);
      ids = grown(ids, capacity);
      newIds = grown(newIds, capacity);
      sizes = grown(sizes, capacity);
      aligns = grown(aligns, capacity);
    }
    const first = fields[0]!;
    if (first === 0 || first > 0xffffffff) fail(line, `ID ${first} is not in 1 .. 2^32-1`);
    ids[length] = first;
    if (op === "a") {
      mark(first, line, 0, 1, "allocation");
      ops[length] = TRACE_ALLOC;
      sizes[length] = fields[1]!;
      aligns[length] = fields[2]!;
      counts.alloc++;
    } else if (op === "f") {
      mark(first, line, 1, 2, "free");
      ops[length] = TRACE_FREE;
      counts.free++;
    } else {
      const next = fields[1]!;
      if (next === 0 || next > 0xffffffff) fail(line, `ID ${next} is not in 1 .. 2^32-1`);
      mark(first, line, 1, 2, "realloc from");
      mark(next, line, 0, 1, "realloc to");
      ops[length] = TRACE_REALLOC;
      newIds[length] = next;
      sizes[length] = fields[2]!;
      counts.realloc++;
    }
    length++;
  }
  return {
    name,
    length,
    ops: ops.subarray(0, length),
    ids: ids.subarray(0, length),
    newIds: newIds.subarray(0, length),
    sizes: sizes.subarray(0, length),
    aligns: aligns.subarray(0, length),
    maxId,
    counts,
  };
}
