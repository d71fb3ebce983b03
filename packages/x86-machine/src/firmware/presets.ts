import {
  AllocatorError,
  GiB,
  KiB,
  MiB,
  PAGE_SIZE,
  PHYS_ADDR_LIMIT,
  describeValue,
  hex,
  type MemoryMap,
  type MemoryMapEntry,
} from "@allockit/core";

/**
 * The E820 maps QEMU + SeaBIOS hand a guest, generated for any RAM size.
 *
 * QEMU splits RAM around the 32-bit PCI hole (hw/i386/pc_piix.c pc_init1, hw/i386/pc_q35.c
 * pc_q35_init, the "lowmem" logic, current machine types with gigabyte_align):
 *   i440fx: lowmem = 0xc0000000 (3 GiB) if ram_size >= 0xe0000000 (3.5 GiB), else 0xe0000000;
 *   q35:    lowmem = 0x80000000 (2 GiB) if ram_size >= 0xb0000000 (2.75 GiB), else 0xb0000000;
 * then below_4g = min(ram_size, lowmem) and the rest is mapped from 4 GiB up. The PCI hole
 * between below_4g and 4 GiB, and 0xa0000-0xeffff (VGA window, option ROMs), are simply not
 * listed. SeaBIOS then reports:
 *   0x9fc00-0x9ffff  reserved  its 1 KiB EBDA, so low RAM is 639 KiB;
 *   0xf0000-0xfffff  reserved  the BIOS itself;
 *   top of low RAM   reserved  its tables (ACPI, SMBIOS, ...), whatever it did not give back:
 *                              128 KiB in qemu-i440fx-128m-kvm.dmesg.txt (SeaBIOS 1.14),
 *                              144 KiB in qemu-q35-15g-kvm.dmesg.txt (SeaBIOS 1.13, more tables);
 *   0xfffc0000-0xffffffff reserved  the 256 KiB BIOS ROM below 4 GiB;
 * q35 adds the PCIe MMCONFIG window 0xb0000000-0xbfffffff and the ICH9 root complex register
 * block 0xfed1c000-0xfed1ffff; under KVM QEMU adds 0xfeffc000-0xfeffffff (the identity-map and
 * TSS pages KVM needs for real mode).
 */

export type QemuMachine = "i440fx" | "q35";

export interface QemuMemoryMapOptions {
  machine: QemuMachine;
  /** Guest RAM (-m), a multiple of 4 KiB, at least 2 MiB. */
  ramBytes: number;
  /** Running under KVM, which adds the 0xfeffc000 reservation. Default true, as in the logs. */
  kvm?: boolean;
  /** What SeaBIOS keeps at the top of low RAM. Default: 128 KiB i440fx, 144 KiB q35. */
  biosTablesBytes?: number;
}

/** RAM below and above 4 GiB. */
export interface QemuRamSplit {
  belowFourGiBBytes: number;
  aboveFourGiBBytes: number;
}

const FOUR_GiB = 4 * GiB;

/** Per machine: from `threshold` bytes of RAM on, lowmem moves from `legacy` down to `aligned`. */
const LOWMEM: Readonly<
  Record<QemuMachine, { threshold: number; legacy: number; aligned: number }>
> = {
  i440fx: { threshold: 0xe0000000, legacy: 0xe0000000, aligned: 0xc0000000 },
  q35: { threshold: 0xb0000000, legacy: 0xb0000000, aligned: 0x80000000 },
};

const DEFAULT_BIOS_TABLES_BYTES: Readonly<Record<QemuMachine, number>> = {
  i440fx: 128 * KiB,
  q35: 144 * KiB,
};

const EBDA_BASE = 0x9fc00;
const EBDA_END = 0xa0000;
const BIOS_BASE = 0xf0000;
const HIGH_MEMORY_BASE = MiB;
const Q35_MMCONFIG_BASE = 0xb0000000;
const Q35_MMCONFIG_SIZE = 256 * MiB;
const ICH9_RCRB_BASE = 0xfed1c000;
const ICH9_RCRB_SIZE = 16 * KiB;
const KVM_IDENTITY_TSS_BASE = 0xfeffc000;
const KVM_IDENTITY_TSS_SIZE = 16 * KiB;
const BIOS_ROM_SIZE = 256 * KiB;
const MIN_RAM_BYTES = 2 * MiB;

function checkMachine(machine: unknown): asserts machine is QemuMachine {
  if (machine !== "i440fx" && machine !== "q35") {
    throw new AllocatorError(
      "EINVAL",
      `QEMU machine ${describeValue(machine)} is not "i440fx" or "q35"`,
      machine,
    );
  }
}

/** How QEMU splits `ramBytes` of guest RAM around the PCI hole (see the module comment). */
export function qemuRamSplit(machine: QemuMachine, ramBytes: number): QemuRamSplit {
  checkMachine(machine);
  checkRamBytes(ramBytes);
  const rule = LOWMEM[machine];
  const lowmem = ramBytes >= rule.threshold ? rule.aligned : rule.legacy;
  const belowFourGiBBytes = Math.min(ramBytes, lowmem);
  return { belowFourGiBBytes, aboveFourGiBBytes: ramBytes - belowFourGiBBytes };
}

function checkRamBytes(ramBytes: unknown): asserts ramBytes is number {
  if (
    typeof ramBytes !== "number" ||
    !Number.isSafeInteger(ramBytes) ||
    ramBytes < MIN_RAM_BYTES ||
    ramBytes % PAGE_SIZE !== 0
  ) {
    throw new AllocatorError(
      "EINVAL",
      `QEMU RAM size ${describeValue(ramBytes)} is not a multiple of 4 KiB of at least 2 MiB`,
      ramBytes,
    );
  }
  // Everything above 4 GiB must stay below the physical address limit.
  if (ramBytes > PHYS_ADDR_LIMIT - FOUR_GiB) {
    throw new AllocatorError(
      "EINVAL",
      `QEMU RAM size ${describeValue(ramBytes)} does not fit below the physical address limit 2^52`,
      ramBytes,
    );
  }
}

function span(base: number, end: number, type: "usable" | "reserved"): MemoryMapEntry {
  return Object.freeze({ base, length: end - base, type });
}

/**
 * The E820 map QEMU + SeaBIOS present for `machine` with `ramBytes` of RAM, sorted by base.
 * EINVAL for an unknown machine, a RAM size that is not a multiple of 4 KiB of at least 2 MiB
 * (or that reaches past 2^52), or a biosTablesBytes that is not a multiple of 4 KiB leaving
 * some RAM above 1 MiB.
 */
export function qemuMemoryMap(options: QemuMemoryMapOptions): MemoryMap {
  const { machine, ramBytes, kvm = true } = options;
  checkMachine(machine);
  checkRamBytes(ramBytes);
  const { belowFourGiBBytes, aboveFourGiBBytes } = qemuRamSplit(machine, ramBytes);
  const tables = options.biosTablesBytes ?? DEFAULT_BIOS_TABLES_BYTES[machine];
  const tablesBase = belowFourGiBBytes - tables;
  if (
    !Number.isSafeInteger(tables) ||
    tables < 0 ||
    tables % PAGE_SIZE !== 0 ||
    tablesBase <= HIGH_MEMORY_BASE
  ) {
    throw new AllocatorError(
      "EINVAL",
      `biosTablesBytes ${describeValue(tables)} is not a multiple of 4 KiB leaving RAM above 1 MiB ` +
        `(low RAM ends at ${hex(belowFourGiBBytes)})`,
      tables,
    );
  }

  const map: MemoryMapEntry[] = [
    span(0, EBDA_BASE, "usable"),
    span(EBDA_BASE, EBDA_END, "reserved"),
    span(BIOS_BASE, HIGH_MEMORY_BASE, "reserved"),
    span(HIGH_MEMORY_BASE, tablesBase, "usable"),
  ];
  if (tables > 0) map.push(span(tablesBase, belowFourGiBBytes, "reserved"));
  if (machine === "q35") {
    map.push(
      span(Q35_MMCONFIG_BASE, Q35_MMCONFIG_BASE + Q35_MMCONFIG_SIZE, "reserved"),
      span(ICH9_RCRB_BASE, ICH9_RCRB_BASE + ICH9_RCRB_SIZE, "reserved"),
    );
  }
  if (kvm) {
    map.push(
      span(KVM_IDENTITY_TSS_BASE, KVM_IDENTITY_TSS_BASE + KVM_IDENTITY_TSS_SIZE, "reserved"),
    );
  }
  map.push(span(FOUR_GiB - BIOS_ROM_SIZE, FOUR_GiB, "reserved"));
  if (aboveFourGiBBytes > 0) map.push(span(FOUR_GiB, FOUR_GiB + aboveFourGiBBytes, "usable"));
  return Object.freeze(map);
}

/**
 * Named maps: "qemu-<machine>-<RAM>" as QEMU + SeaBIOS under KVM present them. The 128m and
 * 15g maps equal the real boot logs (test/fixtures/memmaps) entry for entry.
 */
export const MEMORY_MAP_PRESETS: Readonly<Record<string, MemoryMap>> = Object.freeze({
  "qemu-i440fx-128m": qemuMemoryMap({ machine: "i440fx", ramBytes: 128 * MiB }),
  "qemu-i440fx-4g": qemuMemoryMap({ machine: "i440fx", ramBytes: 4 * GiB }),
  "qemu-i440fx-8g": qemuMemoryMap({ machine: "i440fx", ramBytes: 8 * GiB }),
  "qemu-q35-4g": qemuMemoryMap({ machine: "q35", ramBytes: 4 * GiB }),
  "qemu-q35-15g": qemuMemoryMap({ machine: "q35", ramBytes: 15 * GiB }),
  "qemu-q35-64g": qemuMemoryMap({ machine: "q35", ramBytes: 64 * GiB }),
});

/** The preset called `name`; EINVAL naming the known presets for any other name. */
export function memoryMapPreset(name: string): MemoryMap {
  const map = Object.hasOwn(MEMORY_MAP_PRESETS, name) ? MEMORY_MAP_PRESETS[name] : undefined;
  if (map === undefined) {
    throw new AllocatorError(
      "EINVAL",
      `memory map preset ${describeValue(name)} is not one of ${Object.keys(MEMORY_MAP_PRESETS).join(", ")}`,
      name,
    );
  }
  return map;
}
