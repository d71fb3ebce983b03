import { describe, expect, it } from "vitest";
import {
  FRAME_OWNERS,
  ReportRecorder,
  createReportData,
  renderReport,
  snapshotSystem,
  type ReportData,
} from "../src/index.js";
import { bootFlat, bootMachine, churn } from "./helpers.js";

async function machineReport(title?: string): Promise<ReportData> {
  const system = await bootMachine({ cpus: 2 });
  const recorder = new ReportRecorder(system);
  for (let step = 0; step <= 4; step++) {
    if (step > 0) churn(system, 400, step);
    recorder.sample(step * 400);
  }
  return createReportData({
    system,
    recorder,
    snapshot: snapshotSystem(system),
    source: "test system",
    plugins: [{ section: "heap", name: "heap-slab" }],
    ...(title === undefined ? {} : { title }),
  });
}

/** The JSON block of a rendered page. */
function embedded(html: string): unknown {
  const match = /<script type="application\/json" id="allockit-data">([\s\S]*?)<\/script>/.exec(
    html,
  );
  expect(match).not.toBeNull();
  return JSON.parse(match![1]!);
}

describe("ReportRecorder", () => {
  it("records heap, PMM, VMM and per-CPU TLB series, one entry per sample", async () => {
    const data = await machineReport();
    const series = data.series;
    expect(series.step).toEqual([0, 400, 800, 1200, 1600]);
    for (const column of [
      series.heapLiveBytes,
      series.heapFootprintBytes,
      series.fragmentation,
      series.pmmFreeFrames.DMA32,
      series.demandZeroFaults,
      series.invlpgs,
    ]) {
      expect(column).toHaveLength(5);
    }
    expect(series.tlbHits).toHaveLength(2);
    expect(series.tlbHits[0]).toHaveLength(5);
    // Counters only grow; the boot CPU did the work.
    const hits = series.tlbHits[0]!;
    for (let i = 1; i < hits.length; i++) expect(hits[i]).toBeGreaterThanOrEqual(hits[i - 1]!);
    expect(hits[4]).toBeGreaterThan(hits[0]!);
    // Frames the heap took came out of the PMM's free count.
    expect(series.pmmFreeFrames.DMA32[4]).toBeLessThan(series.pmmFreeFrames.DMA32[0]!);
    series.fragmentation.forEach((value, i) => {
      const live = series.heapLiveBytes[i]!;
      if (live === 0) expect(value).toBeNull();
      else expect(value).toBeCloseTo(series.heapFootprintBytes[i]! / live, 3);
    });
  });

  it("takes the final figures from the last sample", async () => {
    const data = await machineReport();
    const { final, series } = data;
    expect(final.samples).toBe(5);
    expect(final.heapLiveBytes).toBe(series.heapLiveBytes[4]);
    expect(final.fragmentation).toBe(series.fragmentation[4]);
    expect(final.pmmFreeFrames!.NORMAL).toBe(series.pmmFreeFrames.NORMAL[4]);
    const hits = final.tlb.reduce((sum, t) => sum + t.hits, 0);
    const misses = final.tlb.reduce((sum, t) => sum + t.misses, 0);
    expect(hits).toBe(series.tlbHits[0]![4]! + series.tlbHits[1]![4]!);
    expect(final.tlbHitRate).toBeCloseTo(hits / (hits + misses), 5);
    expect(final.pageFaults).toBe(
      series.demandZeroFaults[4]! +
        series.copyOnWriteFaults[4]! +
        series.heapGrowthFaults[4]! +
        series.badFaults[4]!,
    );
    expect(data.paging).toEqual({ mode: "long", access: "direct-map" });
  });

  it("records a flat system without PMM, VMM or TLB figures", async () => {
    const system = await bootFlat();
    const recorder = new ReportRecorder(system);
    churn(system, 200);
    recorder.sample(200);
    const data = createReportData({
      system,
      recorder,
      snapshot: snapshotSystem(system),
      source: "flat",
    });
    expect(data.frameMap).toBeNull();
    expect(data.final.pmmFreeFrames).toBeNull();
    expect(data.final.pageFaults).toBeNull();
    expect(data.final.tlbHitRate).toBeNull();
    expect(data.series.tlbHits).toEqual([]);
    expect(data.series.heapLiveBytes[0]).toBeGreaterThan(0);
    expect(renderReport(data)).toContain('"frameMap":null');
  });
});

describe("renderReport", () => {
  it("is one self-contained file: nothing loaded from anywhere", async () => {
    const html = renderReport(await machineReport());
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\ssrc\s*=/i);
    expect(html).not.toMatch(/\shref\s*=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/@import|url\((?!#)/i); // url(#id) names an element of the page
    expect(html).not.toMatch(/\bimport\s*\(|\bfetch\s*\(|XMLHttpRequest/);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain("default-src 'none'");
  });

  it("embeds the data as JSON that reads back equal", async () => {
    const data = await machineReport();
    const html = renderReport(data);
    expect(embedded(html)).toEqual(JSON.parse(JSON.stringify(data)));
    expect((embedded(html) as ReportData).owners.map((o) => o.key)).toEqual(
      FRAME_OWNERS.map((o) => o.key),
    );
  });

  it("keeps a hostile title inside its script and text", async () => {
    const title = `</script><script>alert(1)</script> & "quotes" <b>`;
    const data = await machineReport(title);
    const html = renderReport(data);
    expect(html.match(/<script\b/g)).toHaveLength(2);
    expect(html).toContain("<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp;");
    expect((embedded(html) as ReportData).title).toBe(title);
  });

  it("embeds the page script as an expression the browser can run", async () => {
    const html = renderReport(await machineReport());
    const script = /<script>([\s\S]*)<\/script>\s*<\/body>/.exec(html)![1]!;
    // Parses as JavaScript (not run: it needs a DOM).
    expect(() => new Function(script)).not.toThrow();
    expect(script).toMatch(/^\(function reportClient\(\)/);
  });
});
