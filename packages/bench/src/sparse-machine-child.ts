import { hex } from "@allockit/core";
import { Machine, qemuMemoryMap } from "@allockit/x86-machine";

// A q35 machine with this much RAM in 4-level paging writes and reads its last page of RAM
// through the MMU; prints the host memory it cost as JSON.
const ramGiB = Number(process.argv[2] ?? 64);
const baselineRssBytes = process.memoryUsage().rss;
const machine = new Machine({
  memoryMap: qemuMemoryMap({ machine: "q35", ramBytes: ramGiB * 2 ** 30 }),
  maxPhysAddr: 46,
});
const mem = machine.memory;
const lastPage = mem.ramEnd - 4096;
const va = 2 ** 47; // 0xffff800000000000: the first upper-half address
// PML4[256] -> PDPT at 0x2000 -> PD at 0x3000 -> PT at 0x4000 -> the last page.
mem.write64(0x1000 + 256 * 8, 0x2003, 0);
mem.write64(0x2000, 0x3003, 0);
mem.write64(0x3000, 0x4003, 0);
mem.write64(0x4000, (lastPage % 2 ** 32) + 3, Math.floor(lastPage / 2 ** 32));
machine.cpu.enablePaging("long", 0x1000);
for (let offset = 0; offset < 4096; offset += 4)
  machine.cpu.write32(va + offset, offset ^ 0x5a5a5a5a);
for (let offset = 0; offset < 4096; offset += 4) {
  if (machine.cpu.read32(va + offset) !== (offset ^ 0x5a5a5a5a) >>> 0)
    throw new Error(`mismatch at ${offset}`);
}
if (mem.read32(lastPage + 4092) !== (4092 ^ 0x5a5a5a5a) >>> 0)
  throw new Error("physical readback failed");
process.stdout.write(
  JSON.stringify({
    ramGiB,
    hostRssBytes: process.memoryUsage().rss,
    baselineRssBytes,
    touchedPages: mem.touchedPages,
    lastPage: hex(lastPage),
  }),
);
