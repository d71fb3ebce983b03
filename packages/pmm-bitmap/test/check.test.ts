import { describe, expect, it } from "vitest";
import { memoryMapPreset } from "@allockit/x86-machine";
import { metadataLayout } from "@allockit/pmm-bitmap";
import {
  KiB,
  MiB,
  bitmapAddress,
  bootPmm,
  descriptorField,
  expectAllocatorError,
  metadataBlock,
  regionOf,
  type BootedPmm,
} from "./helpers.js";

const Q35_4G = memoryMapPreset("qemu-q35-4g");

/** The DMA32 region (16 MiB up) with its first 32 frames allocated, so word 0 is full. */
function bootWithFullWord(): BootedPmm & { region: number; levelOne: number } {
  const booted = bootPmm(Q35_4G);
  expect(booted.pmm.allocFrames(32, { zone: "DMA32", align: 128 * KiB })).toBe(16 * MiB);
  const region = regionOf(booted, 16 * MiB);
  const frames = booted.ram.read32(
    descriptorField(booted, region, metadataLayout.DESC_FRAME_COUNT),
  );
  const levelOne = bitmapAddress(booted, region) + Math.ceil(frames / 32) * 4;
  booted.pmm.check();
  return { ...booted, region, levelOne };
}

function flip(booted: BootedPmm, addr: number, mask: number): void {
  booted.ram.write32(addr, (booted.ram.read32(addr) ^ mask) >>> 0);
}

describe("BitmapPmm.check", () => {
  it("passes on a fresh and a busy allocator", () => {
    const booted = bootWithFullWord();
    for (let i = 0; i < 1000; i++) booted.pmm.allocFrames(1 + (i % 5));
    booted.pmm.check();
  });

  it("catches a free frame marked taken behind its back", () => {
    const booted = bootWithFullWord();
    flip(booted, bitmapAddress(booted, booted.region) + 4, 1);
    expectAllocatorError(() => booted.pmm.check(), "ECORRUPT", "free frames");
  });

  it("catches an allocated frame marked free behind its back", () => {
    const booted = bootWithFullWord();
    flip(booted, bitmapAddress(booted, booted.region), 1 << 7);
    expectAllocatorError(() => booted.pmm.check(), "ECORRUPT", "level 1 word 0");
  });

  it("catches a summary bit cleared under a full word", () => {
    const booted = bootWithFullWord();
    flip(booted, booted.levelOne, 1);
    expectAllocatorError(() => booted.pmm.check(), "ECORRUPT", "level 1 word 0");
  });

  it("catches a summary bit set over a word with free frames", () => {
    const booted = bootWithFullWord();
    flip(booted, booted.levelOne, 1 << 3);
    expectAllocatorError(() => booted.pmm.check(), "ECORRUPT", "full words below it");
  });

  it("catches a cleared tail bit past the end of a region", () => {
    const booted = bootWithFullWord();
    // Region 0 is low RAM, frames 1 .. 0x9e: 158 frames, so its last word has tail bits.
    const frames = booted.ram.read32(descriptorField(booted, 0, metadataLayout.DESC_FRAME_COUNT));
    expect(frames % 32).not.toBe(0);
    const lastWord = bitmapAddress(booted, 0) + (Math.ceil(frames / 32) - 1) * 4;
    flip(booted, lastWord, 1 << 31);
    expectAllocatorError(() => booted.pmm.check(), "ECORRUPT", "past the region's end");
  });

  it("catches a descriptor whose free count was overwritten", () => {
    const booted = bootWithFullWord();
    flip(booted, descriptorField(booted, booted.region, metadataLayout.DESC_FREE_FRAMES), 2);
    expectAllocatorError(() => booted.pmm.check(), "ECORRUPT", "free frames");
  });

  it("catches a descriptor whose geometry was overwritten", () => {
    const booted = bootWithFullWord();
    flip(booted, descriptorField(booted, booted.region, metadataLayout.DESC_FRAME_COUNT), 1);
    expectAllocatorError(() => booted.pmm.check(), "ECORRUPT", "frame count");
  });

  it("catches an unmanaged frame that is not marked taken", () => {
    const booted = bootWithFullWord();
    // Metadata frames are unmanaged and taken; clear the taken bit of the first one.
    const block = metadataBlock(booted);
    const region = regionOf(booted, block.base);
    const base = booted.ram.read32(
      descriptorField(booted, region, metadataLayout.DESC_BASE_FRAME_LOW),
    );
    const index = block.base / 4096 - base;
    flip(booted, bitmapAddress(booted, region) + (index >>> 5) * 4, 1 << (index & 31));
    expectAllocatorError(() => booted.pmm.check(), "ECORRUPT", "not marked taken");
  });

  it("catches a smashed header", () => {
    const booted = bootWithFullWord();
    flip(booted, metadataBlock(booted).base + metadataLayout.HEADER_MAGIC, 0xff);
    expectAllocatorError(() => booted.pmm.check(), "ECORRUPT", "magic");
  });
});
