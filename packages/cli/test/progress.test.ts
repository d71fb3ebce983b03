import { describe, expect, it } from "vitest";
import type { ConformanceReport } from "../src/conformance-run.js";
import { formatConformanceReport } from "../src/conformance-report.js";
import { escapeXml, formatJunit } from "../src/junit.js";
import {
  ProgressBar,
  colourEnabled,
  createStyle,
  formatProgressBar,
  type OutputStream,
} from "../src/progress.js";

function fakeStream(isTTY: boolean): OutputStream & { written: string[] } {
  const written: string[] = [];
  return { isTTY, written, write: (text: string) => written.push(text) };
}

function report(overrides: Partial<ConformanceReport> = {}): ConformanceReport {
  return {
    plugin: "my-heap",
    specifier: "./my-heap",
    file: "/x/my-heap/dist/index.js",
    kind: "heap",
    options: { defaultAlign: 16 },
    memory: "flat",
    numRuns: 50,
    seed: 9,
    checks: [
      {
        name: "properties",
        description: "",
        status: "passed",
        seconds: 0.01,
        summary: "ok",
        counts: {},
      },
      {
        name: "model run",
        description: "",
        status: "failed",
        seconds: 1.5,
        summary: "",
        counts: {},
        message: '[overlap] heap_alloc(1, 0) returned <0x10> & "0x20"\u0007\n  last steps',
      },
      {
        name: "out of memory",
        description: "",
        status: "skipped",
        seconds: 0,
        summary: "",
        counts: {},
        message: "no page source",
      },
    ],
    passed: 1,
    failed: 1,
    skipped: 1,
    seconds: 1.6,
    ok: false,
    ...overrides,
  };
}

describe("colour and progress", () => {
  it("colours only a terminal, and never with NO_COLOR set", () => {
    expect(colourEnabled(fakeStream(true), {})).toBe(true);
    expect(colourEnabled(fakeStream(true), { NO_COLOR: "1" })).toBe(false);
    expect(colourEnabled(fakeStream(true), { NO_COLOR: "" })).toBe(true);
    expect(colourEnabled(fakeStream(false), {})).toBe(false);
    expect(createStyle(fakeStream(true), {}).red("x")).toBe("\x1b[31mx\x1b[39m");
    expect(createStyle(fakeStream(true), { NO_COLOR: "yes" }).red("x")).toBe("x");
    expect(createStyle(fakeStream(false), {}).bold("x")).toBe("x");
  });

  it("draws a bar in place on a terminal, and nothing elsewhere", () => {
    expect(formatProgressBar(3, 8, 8)).toBe("[###.....] 3/8");
    expect(formatProgressBar(8, 8, 4)).toBe("[####] 8/8");
    expect(formatProgressBar(0, 0, 4)).toBe("[####] 0/0");
    const tty = fakeStream(true);
    const bar = new ProgressBar("conformance", tty);
    bar.update(1, 4, "bad pointers");
    bar.clear();
    expect(tty.written).toEqual([
      `\r\x1b[Kconformance ${formatProgressBar(1, 4)} bad pointers`,
      "\r\x1b[K",
    ]);
    const pipe = fakeStream(false);
    const silent = new ProgressBar("conformance", pipe);
    silent.update(1, 4, "x");
    silent.clear();
    expect(silent.active).toBe(false);
    expect(pipe.written).toEqual([]);
  });
});

describe("conformance report formats", () => {
  it("prints each check with its status, the violation indented, and colour only when asked", () => {
    const plainText = formatConformanceReport(report(), createStyle(fakeStream(false), {}));
    expect(plainText).toMatch(/^ {2}PASS {2}properties {8}0\.01 s {2}ok$/m);
    expect(plainText).toMatch(
      /^ {2}FAIL {2}model run {9}1\.50 s\n {8}\[overlap\] heap_alloc\(1, 0\)/m,
    );
    expect(plainText).toMatch(
      /^ {2}SKIP {2}out of memory {5}0\.00 s\n {8}skipped: no page source$/m,
    );
    expect(plainText).toContain("3 checks: 1 passed, 1 failed, 1 skipped in 1.60 s: FAILED\n");
    expect(plainText).not.toContain("\x1b[");
    const coloured = formatConformanceReport(report(), createStyle(fakeStream(true), {}));
    expect(coloured).toContain("\x1b[32mPASS\x1b[39m");
    expect(coloured).toContain("\x1b[31mFAIL\x1b[39m");
  });

  it("writes JUnit XML with escaped messages and no characters XML cannot hold", () => {
    expect(escapeXml(`a<b>&"c'\u0000\u0007\t`)).toBe("a&lt;b&gt;&amp;&quot;c&apos;\t");
    const xml = formatJunit(report(), new Date("2030-01-02T03:04:05.678Z"));
    expect(xml).toContain(
      '<testsuite name="my-heap heap conformance" tests="3" failures="1" errors="0" skipped="1" time="1.600" timestamp="2030-01-02T03:04:05">',
    );
    expect(xml).toContain(
      '<testcase classname="allockit.conformance.heap.my-heap" name="properties" time="0.010"/>',
    );
    expect(xml).toContain(
      '<failure message="[overlap] heap_alloc(1, 0) returned &lt;0x10&gt; &amp; &quot;0x20&quot;" type="ConformanceViolation">[overlap] heap_alloc(1, 0) returned &lt;0x10&gt; &amp; &quot;0x20&quot;\n  last steps</failure>',
    );
    expect(xml).toContain('<skipped message="no page source"/>');
    expect(xml).not.toContain("\u0007");
  });
});
