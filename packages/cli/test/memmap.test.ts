import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { MemoryMap } from "@allockit/core";
import {
  encodeMultiboot1MemoryMap,
  encodeMultiboot2Info,
  encodeMultiboot2MemoryMapTag,
  memoryMapPreset,
} from "@allockit/x86-machine";
import type { MemmapReport } from "../src/memmap.js";
import { allockitProcess as allockit } from "./cli-process.js";

const FIXTURES = "packages/x86-machine/test/fixtures/memmaps";
const scratch = mkdtempSync(join(tmpdir(), "allockit-memmap-"));

async function report(args: string[], input?: string | Uint8Array): Promise<MemmapReport> {
  const outcome = await allockit(
    ["memmap", ...args, "--json"],
    input === undefined ? {} : { input },
  );
  expect(outcome.stderr).toBe("");
  expect(outcome.code).toBe(0);
  return JSON.parse(outcome.stdout) as MemmapReport;
}

const GiB = 1024 ** 3;

describe("allockit memmap", () => {
  it("reads dmesg BIOS-e820 lines: raw and normalised tables, totals per type and zones", async () => {
    const outcome = await allockit(["memmap", `${FIXTURES}/qemu-q35-15g-kvm.dmesg.txt`]);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toMatch(/\(dmesg\): 10 entries/);
    expect(outcome.stdout).toMatch(/^raw:$/m);
    expect(outcome.stdout).toMatch(/^normalised:$/m);
    expect(outcome.stdout).toMatch(/usable 0x0\.\.0x9fc00 aligned inward to whole pages/);
    expect(outcome.stdout).toMatch(/^zone NORMAL +13 GiB/m);
    const json = await report([`${FIXTURES}/qemu-q35-15g-kvm.dmesg.txt`]);
    expect(json.format).toBe("dmesg");
    expect(json.summary.usableBytesByZone.NORMAL).toBe(13 * GiB);
  });

  it("reads a /sys/firmware/memmap listing, also from standard input", async () => {
    const { readFileSync } = await import("node:fs");
    const text = readFileSync(`${FIXTURES}/cloud-vm-24g.sysfs-memmap.txt`, "utf8");
    const fromFile = await report([`${FIXTURES}/cloud-vm-24g.sysfs-memmap.txt`]);
    const fromStdin = await report(["-"], text);
    expect(fromFile.format).toBe("sysfs");
    expect(fromStdin.source).toBe("standard input");
    expect(fromStdin.normalized).toEqual(fromFile.normalized);
    // The same machine's dmesg lines give the same usable RAM.
    const dmesg = await report([`${FIXTURES}/cloud-vm-24g.dmesg.txt`]);
    expect(fromFile.summary.allocatableBytes).toBe(dmesg.summary.allocatableBytes);
  });

  it("reads multiboot1 mmap buffers and multiboot2 boot information, detected from the bytes", async () => {
    const map: MemoryMap = memoryMapPreset("qemu-i440fx-4g");
    const mb1 = join(scratch, "mb1.bin");
    const mb2 = join(scratch, "mb2.bin");
    writeFileSync(mb1, encodeMultiboot1MemoryMap(map));
    writeFileSync(mb2, encodeMultiboot2Info([encodeMultiboot2MemoryMapTag(map)]));
    const one = await report([mb1]);
    const two = await report([mb2]);
    expect(one.format).toBe("multiboot1");
    expect(two.format).toBe("multiboot2");
    for (const decoded of [one, two]) {
      expect(decoded.raw.map((e) => [e.base, e.length, e.type])).toEqual(
        map.map((e) => [e.base, e.length, e.type]),
      );
    }
    expect(two.summary).toEqual(one.summary);
  });

  it("names an unreadable file and input that holds no memory map", async () => {
    const missing = await allockit(["memmap", "no-such-map.txt"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^allockit: EINVAL: cannot read memory map no-such-map\.txt/);
    const prose = await allockit(["memmap", "-"], { input: "hello, this is not a memory map\n" });
    expect(prose.code).toBe(1);
    expect(prose.stderr).toMatch(/no memory map in the input/);
  });
});
