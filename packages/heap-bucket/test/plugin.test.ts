import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { container } from "tsyringe";
import {
  API_VERSION,
  FlatMemory,
  FlatPageSource,
  MiB,
  TOKENS,
  manifestProblems,
  resolveToken,
} from "@allockit/core";
import plugin, { BucketHeap } from "../src/index.js";
import { codeOf } from "./helpers.js";

describe("heap-bucket plugin manifest", () => {
  it("is a valid heap manifest", () => {
    expect(manifestProblems(plugin)).toEqual([]);
    expect(plugin.apiVersion).toBe(API_VERSION);
    expect(plugin.name).toBe("@allockit/heap-bucket");
    expect(plugin.kind).toBe("heap");
  });

  it("fills option defaults and rejects unknown or out-of-range options", () => {
    expect(plugin.options.parse({})).toEqual({ bucketKiB: 64, fit: "first" });
    expect(plugin.options.parse({ fit: "best", bucketKiB: 256 })).toEqual({
      bucketKiB: 256,
      fit: "best",
    });
    expect(plugin.options.safeParse({ bucketKiB: 32 }).success).toBe(false);
    expect(plugin.options.safeParse({ bucketKiB: 64.5 }).success).toBe(false);
    expect(plugin.options.safeParse({ fit: "worst" }).success).toBe(false);
    expect(plugin.options.safeParse({ colour: "blue" }).success).toBe(false);
  });

  it("registers one BucketHeap under TOKENS.Heap over TOKENS.PageSource, with the options", () => {
    const child = container.createChildContainer();
    const source = new FlatPageSource(new FlatMemory(4 * MiB));
    child.register(TOKENS.PageSource, { useValue: source });
    plugin.register(child, plugin.options.parse({ bucketKiB: 128, fit: "best" }));
    const heap = resolveToken(child, TOKENS.Heap);
    expect(heap).toBeInstanceOf(BucketHeap);
    expect(resolveToken(child, TOKENS.Heap)).toBe(heap);
    expect((heap as BucketHeap).options).toEqual({ bucketKiB: 128, fit: "best" });
    expect(heap.memory).toBe(source.memory);
    // 128 KiB of pebble space plus headers: 33 pages, taken when the heap is built.
    expect(source.stats().pagesInUse).toBe(33);
  });

  it("the class refuses bad options with EINVAL", () => {
    const source = new FlatPageSource(new FlatMemory(4 * MiB));
    expect(codeOf(() => new BucketHeap(source, { bucketKiB: 16 }))).toBe("EINVAL");
    expect(codeOf(() => new BucketHeap(source, { fit: "worst" as "best" }))).toBe("EINVAL");
    expect(source.stats().pagesInUse).toBe(0);
  });
});
