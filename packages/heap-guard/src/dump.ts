import { formatSize } from "@allockit/core";
import type { Memory } from "@allockit/core";
import { LIVE_RECORD, R_STATE } from "./layout.js";
import { readObject } from "./lookup.js";
import type { QuarantineRing } from "./quarantine.js";
import type { RecordTable } from "./records.js";
import { formatAddress } from "./report.js";
import type { GuardObjectInfo } from "./violation.js";

/** What the dump's summary line needs beyond the records. */
export interface GuardDumpContext {
  readonly guardPages: boolean;
  readonly quarantinePages: number;
  readonly liveBytes: number;
  readonly footprintBytes: number;
}

function line(state: string, object: GuardObjectInfo): string {
  const tag = object.tag === "" ? "" : ` "${object.tag}"`;
  const freed = object.freedAs === 0 ? "" : ` freed as free #${object.freedAs}`;
  return `  ${state} #${object.sequence} ${formatAddress(object.address)} size ${object.size} align ${object.align} ${object.mode}${object.canary ? " canary" : ""} run ${formatAddress(object.run)} +${object.pages}p${tag}${freed}`;
}

/**
 * The heap's records as text: a summary line, then one line per live object (address order
 * of the table slots) and one per quarantined object, oldest first. Reads metadata only.
 */
export function dumpGuardHeap(
  memory: Memory,
  table: RecordTable,
  ring: QuarantineRing,
  context: GuardDumpContext,
): string {
  const lines = [
    `heap-guard: ${table.used} live object(s) holding ${formatSize(context.liveBytes)}, ${ring.count} quarantined (${ring.heldPages} of ${context.quarantinePages} pages), ${formatSize(context.footprintBytes)} from the page source (table ${table.pages} page(s), ring ${ring.pages}), guard pages ${context.guardPages ? "on" : "off"}`,
  ];
  for (let i = 0; i < table.highWater; i++) {
    const record = table.recordAt(i);
    if (memory.read32(record + R_STATE) === LIVE_RECORD)
      lines.push(line("live ", readObject(memory, record)));
  }
  for (let i = 0; i < ring.count; i++) lines.push(line("freed", readObject(memory, ring.entry(i))));
  return lines.join("\n") + "\n";
}
