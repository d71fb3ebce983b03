import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, describe, expect, it, vi } from "vitest";
import { countOwners, type ReportData } from "@allockit/report";
import { reportCommand } from "../src/commands/report.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-quic",
  "--disable-component-update",
  "--disable-sync",
];

const scratch = mkdtempSync(join(tmpdir(), "allockit-report-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Runs `allockit report ...args` in this process and returns what it printed. The command is
 * mounted on a program of its own, so the test does not depend on the CLI's command list.
 */
async function report(...args: string[]): Promise<string> {
  let out = "";
  const write = vi
    .spyOn(process.stdout, "write")
    .mockImplementation((chunk: string | Uint8Array) => {
      out += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      return true;
    });
  try {
    const program = new Command("allockit").exitOverride();
    reportCommand.configure(
      program.command(reportCommand.name).description(reportCommand.description),
    );
    await program.parseAsync(["report", ...args], { from: "user" });
  } finally {
    write.mockRestore();
  }
  return out;
}

/** Headless Chromium with a fresh profile (--user-data-dir); fails (never skips) when Chromium is missing. */
async function launchChromium(): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `the report's browser test needs Chromium at ${CHROMIUM}: install it with ` +
        "`apt-get update && apt-get install -y chromium` (.ci/run does this in CI)",
    );
  }
  const profile = mkdtempSync(join(scratch, "chromium-profile-"));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 1000 },
  });
}

function readData(dir: string): ReportData {
  return JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as ReportData;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** The text of a count as the page prints it ("12,345"), as a number. */
function shownCount(text: string | null): number {
  return Number((text ?? "").replace(/,/g, ""));
}

describe("allockit report", () => {
  it("runs heap-slab on the machine by default and writes index.html and report.json", async () => {
    const dir = join(scratch, "default");
    const printed = await report("--out", dir, "--ops", "6000", "--every", "1000");
    expect(printed).toContain(`report written to ${join(dir, "index.html")}`);
    expect(printed).toMatch(/frames mapped, [\d,]+ free, [\d,]+ heap; .*fragmentation \d+\.\d\d/);
    const data = readData(dir);
    expect(data.plugins.map((p) => p.section)).toEqual(["machine", "pmm", "vmm", "heap"]);
    expect(data.plugins.find((p) => p.section === "heap")!.name).toContain("heap-slab");
    expect(data.run!.operations).toBe(6000);
    expect(data.series.step).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000]);
    const map = data.frameMap!;
    expect(sum(map.counts)).toBe(map.endFrame - map.firstFrame);
    // The snapshot was taken while the workload's blocks were live: the heap region's committed
    // pages are the heap's frames, and its footprint is in them.
    const heapRegions = data.spaces
      .filter((s) => s.kernel)
      .flatMap((s) => s.regions)
      .filter((r) => r.kind === "heap");
    const heapFrames = map.counts[data.owners.find((o) => o.key === "heap")!.id]!;
    expect(heapFrames).toBe(sum(heapRegions.map((r) => r.committedPages)));
    expect(heapFrames * map.pageSize).toBeGreaterThanOrEqual(data.final.heapFootprintBytes);
    expect(data.final.heapLiveBytes).toBeGreaterThan(0);
    expect(data.final.tlbHitRate).toBeGreaterThan(0.5);
    expect(readFileSync(join(dir, "index.html"), "utf8")).toContain('id="allockit-data"');
  });

  it("takes a config file, like run", async () => {
    const config = join(scratch, "pae.json");
    writeFileSync(
      config,
      JSON.stringify({
        machine: { plugin: "@allockit/x86-machine", options: { preset: "qemu-i440fx-128m" } },
        pmm: { plugin: "@allockit/pmm-stack" },
        vmm: { plugin: "@allockit/vmm", options: { mode: "pae", access: "window" } },
        heap: { plugin: "@allockit/heap-bucket" },
      }),
    );
    const dir = join(scratch, "pae");
    await report("--config", config, "--out", dir, "--ops", "3000");
    const data = readData(dir);
    expect(data.source).toBe(config);
    expect(data.paging).toEqual({ mode: "pae", access: "window" });
    const map = data.frameMap!;
    const holes = map.counts[data.owners.find((o) => o.key === "hole")!.id]!;
    expect(holes).toBeGreaterThan(0);
    expect(map.exactFree).toBe(true);
  });

  it("reports a flat system with no frame map", async () => {
    const dir = join(scratch, "flat");
    const printed = await report(
      "--heap",
      "list-heap",
      "--memory",
      "flat",
      "--out",
      dir,
      "--ops",
      "2000",
    );
    expect(printed).toContain("no machine (flat memory)");
    const data = readData(dir);
    expect(data.frameMap).toBeNull();
    expect(data.spaces).toEqual([]);
  });

  it("refuses a config file together with --heap", async () => {
    await expect(
      report("--config", "x.json", "--heap", "heap-slab", "--out", join(scratch, "never")),
    ).rejects.toThrow(/either a config file/);
    expect(existsSync(join(scratch, "never"))).toBe(false);
  });

  it("shows the run's figures in headless Chromium, with no console errors", async () => {
    const dir = join(scratch, "browser");
    await report("--out", dir, "--ops", "20000", "--seed", "7");
    const data = readData(dir);
    const map = data.frameMap!;

    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`);
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      page.on("request", (request) => {
        if (!request.url().startsWith("file:")) problems.push(`request: ${request.url()}`);
      });
      await page.goto(pathToFileURL(join(dir, "index.html")).href);
      await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });

      // The legend: one row per owner, its frames and bytes as report.json has them.
      const rows = await page.$$eval("[data-testid=legend-row]", (elements) =>
        elements.map((row) => ({
          owner: row.getAttribute("data-owner"),
          label: row.querySelector("[data-testid=legend-label]")!.textContent,
          frames: row.querySelector("[data-testid=legend-frames]")!.textContent,
          inView: row.querySelector("[data-testid=legend-view-frames]")!.textContent,
        })),
      );
      expect(rows.map((r) => r.owner)).toEqual(data.owners.map((o) => o.key));
      expect(rows.map((r) => r.label)).toEqual(data.owners.map((o) => o.label));
      expect(rows.map((r) => shownCount(r.frames))).toEqual(map.counts);
      // Whole map in view at first.
      expect(rows.map((r) => shownCount(r.inView))).toEqual(map.counts);
      expect(shownCount(rows.find((r) => r.owner === "free")!.frames)).toBeGreaterThan(0);
      expect(shownCount(rows.find((r) => r.owner === "heap")!.frames)).toBeGreaterThan(0);

      // The figures.
      const figure = async (id: string) => ({
        text: await page.textContent(`[data-testid=figure-${id}]`),
        value: JSON.parse((await page.getAttribute(`[data-testid=figure-${id}]`, "data-value"))!),
      });
      const fragmentation = await figure("fragmentation");
      expect(fragmentation.value).toBe(data.final.fragmentation);
      expect(fragmentation.text).toBe(data.final.fragmentation!.toFixed(2));
      const tlb = await figure("tlb-hit-rate");
      expect(tlb.value).toBe(data.final.tlbHitRate);
      expect(tlb.text).toBe(`${(data.final.tlbHitRate! * 100).toFixed(2)}%`);
      const faults = await figure("page-faults");
      expect(shownCount(faults.text)).toBe(data.final.pageFaults);
      expect(shownCount((await figure("operations")).text)).toBe(20000);
      const free = await figure("pmm-free");
      expect(shownCount(free.text)).toBe(sum(Object.values(data.final.pmmFreeFrames!)));

      // Address spaces and charts are drawn.
      expect(await page.locator("[data-testid=space]").count()).toBe(data.spaces.length);
      const committed = await page.$$eval("[data-testid=region-committed]", (cells) =>
        cells.map((cell) => cell.textContent),
      );
      expect(committed.map(shownCount)).toEqual(
        data.spaces.flatMap((s) => s.regions.map((r) => r.committedPages)),
      );
      for (const chart of ["heap", "fragmentation", "pmm", "faults", "tlb"]) {
        expect(await page.locator(`[data-testid=chart-${chart}] path`).count()).toBeGreaterThan(0);
      }

      // Zoom to a range by address: the view's owner counts are the map's within it.
      const from = 0x100000;
      const to = 0x800000 + 0x3000;
      await page.fill("[data-testid=zoom-from]", `0x${from.toString(16)}`);
      await page.fill("[data-testid=zoom-to]", `0x${to.toString(16)}`);
      await page.click("[data-testid=zoom-apply]");
      const expected = countOwners(map, from / map.pageSize, to / map.pageSize);
      const zoomed = await page.$$eval("[data-testid=legend-view-frames]", (cells) =>
        cells.map((cell) => cell.textContent),
      );
      expect(zoomed.map(shownCount)).toEqual(expected);
      expect(sum(expected)).toBe((to - from) / map.pageSize);
      expect(await page.getAttribute("[data-testid=zoom-range]", "data-from-frame")).toBe(
        String(from / map.pageSize),
      );
      // Dragging across the canvas zooms further in; "whole map" goes back.
      const canvas = (await page.locator("[data-testid=frame-map-canvas]").boundingBox())!;
      await page.mouse.move(canvas.x + 10, canvas.y + 10);
      await page.mouse.down();
      await page.mouse.move(canvas.x + canvas.width - 10, canvas.y + canvas.height / 2);
      await page.mouse.up();
      const dragFrom = Number(
        await page.getAttribute("[data-testid=zoom-range]", "data-from-frame"),
      );
      const dragTo = Number(await page.getAttribute("[data-testid=zoom-range]", "data-to-frame"));
      expect(dragFrom).toBeGreaterThanOrEqual(from / map.pageSize);
      expect(dragTo).toBeLessThanOrEqual(to / map.pageSize);
      expect(dragTo - dragFrom).toBeLessThan((to - from) / map.pageSize);
      const dragged = await page.$$eval("[data-testid=legend-view-frames]", (cells) =>
        cells.map((cell) => cell.textContent),
      );
      expect(dragged.map(shownCount)).toEqual(countOwners(map, dragFrom, dragTo));
      await page.click("[data-testid=zoom-reset]");
      const reset = await page.$$eval("[data-testid=legend-view-frames]", (cells) =>
        cells.map((cell) => cell.textContent),
      );
      expect(reset.map(shownCount)).toEqual(map.counts);

      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it("shows 'no machine' for a flat system in the browser", async () => {
    const dir = join(scratch, "flat-browser");
    await report("--memory", "flat", "--out", dir, "--ops", "2000");
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(m.text());
      });
      page.on("pageerror", (e) => problems.push(e.message));
      await page.goto(pathToFileURL(join(dir, "index.html")).href);
      await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
      expect(await page.textContent("[data-testid=frame-map-none]")).toContain("no machine");
      expect(await page.locator("[data-testid=legend-row]").count()).toBe(0);
      expect(await page.textContent("[data-testid=figure-tlb-hit-rate]")).toBe("n/a");
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
