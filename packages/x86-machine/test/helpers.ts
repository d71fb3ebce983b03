import { Machine, type MachineOptions } from "@allockit/x86-machine";

/** Flags of a present, writable, user-accessible entry. */
export const PRW = 0x7;

/**
 * A machine in 4-level paging with page tables built by hand: PML4 at 0x1000, and a tiny
 * frame allocator handing out page-table frames from 0x100000 upward.
 */
export function longModeMachine(options: MachineOptions = {}) {
  const machine = new Machine({ ramBytes: 64 * 1024 * 1024, ...options });
  let nextFrame = 0x100000;
  const frame = () => {
    const at = nextFrame;
    nextFrame += 0x1000;
    return at;
  };
  const pml4 = 0x1000;
  /** Maps the 4 KiB page at packed linear `va` to physical `pa` with `flags` (low bits). */
  const map = (va: number, pa: number, flags = PRW) => {
    let table = pml4;
    for (const shift of [39, 30, 21]) {
      const at = table + (Math.floor(va / 2 ** shift) % 512) * 8;
      let entry = machine.memory.read32(at);
      if ((entry & 1) === 0) {
        entry = frame() | PRW;
        machine.memory.write64(at, entry, 0);
      }
      table = entry & 0xfffff000;
    }
    machine.memory.write64(table + (Math.floor(va / 4096) % 512) * 8, pa + flags, 0);
    return table + (Math.floor(va / 4096) % 512) * 8;
  };
  machine.cpu.enablePaging("long", pml4);
  return { machine, cpu: machine.cpu, map, frame };
}
