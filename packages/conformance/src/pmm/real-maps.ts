/**
 * Firmware memory maps of real machines, as their boot logs or /sys/firmware/memmap showed them
 * (the text of x86-machine's test fixtures, shipped here so plugin authors get them with the
 * suite). They are untidy on purpose: holes, ACPI islands inside RAM, page 0 reserved, RAM above
 * 4 GiB. Parse them with `parseMemoryMapText`.
 */
export interface RealMemoryMap {
  /** File name without ".txt", e.g. "cloud-vm-24g.dmesg". */
  readonly name: string;
  /** What machine reported it. */
  readonly description: string;
  /** The text exactly as captured (dmesg `BIOS-e820:` lines or sysfs memmap lines). */
  readonly text: string;
}

export const REAL_MEMORY_MAPS: readonly RealMemoryMap[] = Object.freeze([
  {
    name: "qemu-i440fx-128m-kvm.dmesg",
    description: "QEMU i440fx, -m 128M, KVM, SeaBIOS 1.14 (dmesg)",
    text:
      [
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
        "[    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x0000000007fdffff] usable",
        "[    0.000000] BIOS-e820: [mem 0x0000000007fe0000-0x0000000007ffffff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x00000000feffc000-0x00000000feffffff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved",
        "[    0.000000] NX (Execute Disable) protection: active",
        "[    0.000000] DMI: QEMU Standard PC (i440FX + PIIX, 1996), BIOS rel-1.14.0-0-g155821a1990b-prebuilt.qemu.org 04/01/2014",
        "[    0.000000] Hypervisor detected: KVM",
      ].join("\n") + "\n",
  },
  {
    name: "qemu-q35-15g-kvm.dmesg",
    description: "QEMU q35, 15 GiB, KVM, SeaBIOS 1.13 (dmesg, leading space)",
    text:
      [
        " [    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
        " [    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved",
        " [    0.000000] BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved",
        " [    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000007ffdbfff] usable",
        " [    0.000000] BIOS-e820: [mem 0x000000007ffdc000-0x000000007fffffff] reserved",
        " [    0.000000] BIOS-e820: [mem 0x00000000b0000000-0x00000000bfffffff] reserved",
        " [    0.000000] BIOS-e820: [mem 0x00000000fed1c000-0x00000000fed1ffff] reserved",
        " [    0.000000] BIOS-e820: [mem 0x00000000feffc000-0x00000000feffffff] reserved",
        " [    0.000000] BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved",
        " [    0.000000] BIOS-e820: [mem 0x0000000100000000-0x000000043fffffff] usable",
        " [    0.000000] DMI: QEMU Standard PC (Q35 + ICH9, 2009), BIOS rel-1.13.0-0-gf21b5a4aeb02-prebuilt.qemu.org 04/01/2014",
      ].join("\n") + "\n",
  },
  {
    name: "chromebook-setzer-coreboot.dmesg",
    description: "Chromebook, coreboot + EDK II, 4 GiB: page 0 reserved, ACPI data islands (dmesg)",
    text:
      [
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x0000000000000fff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x0000000000001000-0x000000000009ffff] usable",
        "[    0.000000] BIOS-e820: [mem 0x00000000000a0000-0x00000000000fffff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000001ec4afff] usable",
        "[    0.000000] BIOS-e820: [mem 0x000000001ec4b000-0x000000001ec4bfff] ACPI data",
        "[    0.000000] BIOS-e820: [mem 0x000000001ec4c000-0x000000001fc91fff] usable",
        "[    0.000000] BIOS-e820: [mem 0x000000001fc92000-0x000000001fc94fff] ACPI data",
        "[    0.000000] BIOS-e820: [mem 0x000000001fc95000-0x000000001fca8fff] usable",
        "[    0.000000] BIOS-e820: [mem 0x000000001fca9000-0x000000001fcabfff] ACPI data",
        "[    0.000000] BIOS-e820: [mem 0x000000001fcac000-0x000000001feaefff] usable",
        "[    0.000000] BIOS-e820: [mem 0x000000001feaf000-0x000000001fff2fff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x000000001fff3000-0x000000001fff6fff] ACPI NVS",
        "[    0.000000] BIOS-e820: [mem 0x000000001fff7000-0x000000001fffefff] ACPI data",
        "[    0.000000] BIOS-e820: [mem 0x000000001ffff000-0x000000001fffffff] usable",
        "[    0.000000] BIOS-e820: [mem 0x0000000020000000-0x00000000201fffff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x0000000020200000-0x000000007cccdfff] usable",
        "[    0.000000] BIOS-e820: [mem 0x000000007ccce000-0x000000007fffffff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x00000000ffdc0000-0x00000000ffdfffff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x0000000100000000-0x000000017fffffff] usable",
        "[    0.000000] DMI: GOOGLE Setzer/Setzer, BIOS MrChromebox-4.18.2 11/29/2022",
      ].join("\n") + "\n",
  },
  {
    name: "cloud-vm-24g.dmesg",
    description: "a 24 GiB cloud VM (dmesg)",
    text:
      [
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
        "[    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x00000000bfffffff] usable",
        "[    0.000000] BIOS-e820: [mem 0x00000000eec00000-0x00000000febfffff] reserved",
        "[    0.000000] BIOS-e820: [mem 0x0000000100000000-0x000000063fffffff] usable",
      ].join("\n") + "\n",
  },
  {
    name: "cloud-vm-24g.sysfs-memmap",
    description: "the same 24 GiB cloud VM (/sys/firmware/memmap lines)",
    text:
      [
        "0x0 0x9fbff System RAM",
        "0x9fc00 0xfffff Reserved",
        "0x100000 0xbfffffff System RAM",
        "0xeec00000 0xfebfffff Reserved",
        "0x100000000 0x63fffffff System RAM",
      ].join("\n") + "\n",
  },
]);
