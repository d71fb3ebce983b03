import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { traceName } from "@allockit/core";
import { median } from "../measure.js";
import type { TraceRow } from "../tables/trace.js";

/** The C replay program (native/replay.c in this package). */
const SOURCE = fileURLToPath(new URL("../../native/replay.c", import.meta.url));

/** What the C program prints. */
interface NativeResult {
  ops: number;
  seconds: number;
  peakLiveBytes: number;
  peakFootprintBytes: number;
  failures: number;
}

/** Why the native row is missing, when it is (no C compiler on this machine). */
export let nativeReplayNote: string | undefined;

/** Compiles the replay program with the machine's `cc`; undefined when there is none. */
function compile(): string | undefined {
  const binary = join(mkdtempSync(join(tmpdir(), "allockit-native-")), "replay");
  try {
    execFileSync("cc", ["-O2", "-o", binary, SOURCE], { stdio: "pipe" });
  } catch (error) {
    nativeReplayNote = `native malloc skipped: cc could not build ${SOURCE} (${(error as Error).message.split("\n")[0]})`;
    return undefined;
  }
  return existsSync(binary) ? binary : undefined;
}

/**
 * Replays the first `ops` operations of a trace with the C library's malloc / free / realloc:
 * `runs` timed passes (the median reported) and one pass sampling mallinfo2 (arena + hblkhd)
 * after every operation for the peak footprint. Undefined when no C compiler is available.
 */
export function measureNativeReplay(file: string, ops: number, runs: number): TraceRow | undefined {
  const binary = compile();
  if (binary === undefined) return undefined;
  let text = readFileSync(file);
  if (file.endsWith(".gz")) text = gunzipSync(text);
  const limit = Number.isFinite(ops) ? String(ops) : "0";
  const run = (footprint: boolean): NativeResult =>
    JSON.parse(
      execFileSync(binary, footprint ? [limit, "--footprint"] : [limit], {
        input: text,
        encoding: "utf8",
        maxBuffer: 1 << 20,
      }),
    ) as NativeResult;
  const timed = Array.from({ length: runs }, () => run(false));
  const sampled = run(true);
  const seconds = median(timed.map((result) => result.seconds));
  const peakLive = sampled.peakLiveBytes;
  return {
    trace: traceName(file),
    heap: "native-malloc",
    memory: "native",
    ops: sampled.ops,
    seconds: Math.round(seconds * 10_000) / 10_000,
    opsPerSec: seconds > 0 ? Math.round(sampled.ops / seconds) : 0,
    peakLiveBytes: peakLive,
    peakFootprintBytes: sampled.peakFootprintBytes,
    fragmentation:
      peakLive > 0 ? Math.round((sampled.peakFootprintBytes / peakLive) * 10_000) / 10_000 : 0,
    failures: sampled.failures,
    runs,
  };
}
