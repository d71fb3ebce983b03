/**
 * The report page's script. `renderReport` embeds this function's source text, so it must be
 * self-contained: everything it uses is declared inside it (no imports, no outer names). It
 * reads the data from the page's `allockit-data` JSON block and draws every section.
 */
export function reportClient(): void {
  interface Owner {
    id: number;
    key: string;
    label: string;
    colour: string;
    description: string;
  }
  interface FrameMap {
    pageSize: number;
    firstFrame: number;
    endFrame: number;
    runs: number[];
    counts: number[];
    exactFree: boolean;
  }
  interface Region {
    start: number;
    startText: string;
    sizeBytes: number;
    guardBytes: number;
    kind: string;
    name: string;
    protection: { write: boolean; user: boolean; execute: boolean };
    committedPages: number;
    zeroPages: number;
    system: boolean;
  }
  interface Space {
    id: number;
    kernel: boolean;
    lowText: string;
    highText: string;
    regions: Region[];
    pageTableFrames: number;
  }
  interface Series {
    step: number[];
    heapLiveBytes: number[];
    heapFootprintBytes: number[];
    fragmentation: Array<number | null>;
    pmmFreeFrames: Record<string, number[]>;
    demandZeroFaults: number[];
    copyOnWriteFaults: number[];
    heapGrowthFaults: number[];
    badFaults: number[];
    tlbHits: number[][];
    tlbMisses: number[][];
  }
  interface Data {
    title: string;
    source: string;
    plugins: Array<{ section: string; name: string }>;
    run: Record<string, number> | null;
    paging: { mode: string; access: string } | null;
    owners: Owner[];
    frameMap: FrameMap | null;
    spaces: Space[];
    series: Series;
    final: {
      samples: number;
      heapLiveBytes: number;
      heapFootprintBytes: number;
      peakLiveBytes: number;
      fragmentation: number | null;
      pmmFreeFrames: Record<string, number> | null;
      pmmTotalFrames: number | null;
      pageFaults: number | null;
      tlbHitRate: number | null;
      tlb: Array<{ cpu: number; hits: number; misses: number; hitRate: number | null }>;
    };
  }
  interface Line {
    label: string;
    colour: string;
    values: Array<number | null>;
  }

  // The SVG namespace, taken from an element the HTML parser made (so the page holds no URL).
  const probe = document.createElement("div");
  probe.innerHTML = "<svg></svg>";
  const SVG = probe.firstElementChild!.namespaceURI!;
  const data = JSON.parse(document.getElementById("allockit-data")!.textContent!) as Data;

  // ---------------------------------------------------------------- helpers

  function el<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    attrs: Record<string, string> = {},
    ...children: Array<Node | string>
  ): HTMLElementTagNameMap[K] {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    for (const child of children) node.append(child);
    return node;
  }
  function svg(tag: string, attrs: Record<string, string | number> = {}): SVGElement {
    const node = document.createElementNS(SVG, tag) as SVGElement;
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    return node;
  }
  function count(value: number): string {
    return value.toLocaleString("en-US");
  }
  function bytes(value: number): string {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = value;
    let unit = 0;
    while (Math.abs(v) >= 1024 && unit < units.length - 1) {
      v /= 1024;
      unit++;
    }
    return unit === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[unit]}`;
  }
  function percent(rate: number | null): string {
    return rate === null ? "n/a" : `${(rate * 100).toFixed(2)}%`;
  }
  function hex(value: number): string {
    return `0x${value.toString(16)}`;
  }
  function section(id: string, title: string): HTMLElement {
    const node = el("section", { id, "data-testid": `section-${id}` }, el("h2", {}, title));
    document.getElementById("report")!.append(node);
    return node;
  }

  // ---------------------------------------------------------------- header and figures

  document.getElementById("title")!.textContent = data.title;
  const header = document.getElementById("subtitle")!;
  header.textContent =
    `${data.source}` +
    (data.plugins.length > 0
      ? ` — ${data.plugins.map((p) => `${p.section} ${p.name}`).join(", ")}`
      : "") +
    (data.paging === null ? "" : ` — ${data.paging.mode} paging, ${data.paging.access}`);

  const figures = section("figures", "At the end of the run");
  const grid = el("div", { class: "figures" });
  figures.append(grid);
  function figure(id: string, label: string, text: string, value: unknown): void {
    grid.append(
      el(
        "div",
        { class: "figure" },
        el("div", { class: "figure-label" }, label),
        el(
          "div",
          {
            class: "figure-value",
            "data-testid": `figure-${id}`,
            "data-value": JSON.stringify(value),
          },
          text,
        ),
      ),
    );
  }
  const final = data.final;
  if (data.run !== null && data.run.operations !== undefined)
    figure("operations", "operations", count(data.run.operations), data.run.operations);
  figure("heap-live", "heap live", bytes(final.heapLiveBytes), final.heapLiveBytes);
  figure(
    "heap-footprint",
    "heap footprint",
    bytes(final.heapFootprintBytes),
    final.heapFootprintBytes,
  );
  figure(
    "fragmentation",
    "fragmentation (footprint / live)",
    final.fragmentation === null ? "n/a" : final.fragmentation.toFixed(2),
    final.fragmentation,
  );
  if (final.pmmFreeFrames !== null) {
    const free = Object.values(final.pmmFreeFrames).reduce((a, b) => a + b, 0);
    figure("pmm-free", "PMM free frames", count(free), free);
  }
  figure(
    "page-faults",
    "page faults",
    final.pageFaults === null ? "n/a" : count(final.pageFaults),
    final.pageFaults,
  );
  figure("tlb-hit-rate", "TLB hit rate", percent(final.tlbHitRate), final.tlbHitRate);

  // ---------------------------------------------------------------- frame map

  const mapSection = section("frame-map", "Physical frames by owner");
  const frameMap = data.frameMap;
  if (frameMap === null) {
    mapSection.append(
      el(
        "p",
        { "data-testid": "frame-map-none", class: "note" },
        "no machine: this system runs on flat memory, so it has no physical frames to map",
      ),
    );
  } else {
    drawFrameMap(mapSection, frameMap);
  }

  function ownerCounts(map: FrameMap, from: number, to: number): number[] {
    const counts = data.owners.map(() => 0);
    const runs = map.runs;
    for (let i = 0; i < runs.length; i += 3) {
      const low = Math.max(runs[i]!, from);
      const high = Math.min(runs[i]! + runs[i + 1]!, to);
      if (low < high) counts[runs[i + 2]!]! += high - low;
    }
    return counts;
  }

  function drawFrameMap(parent: HTMLElement, map: FrameMap): void {
    const view = { from: map.firstFrame, to: map.endFrame };
    const columns = 256;
    const rows = 64;
    const cellPx = 4;
    const owners = data.owners;

    if (!map.exactFree)
      parent.append(
        el(
          "p",
          { class: "note" },
          "This PMM cannot tell free frames (no isFrameFree): its free and allocated frames both show as other.",
        ),
      );

    const legend = el(
      "table",
      { class: "legend", "data-testid": "legend" },
      el(
        "tr",
        {},
        el("th", {}, ""),
        el("th", {}, "owner"),
        el("th", {}, "frames"),
        el("th", {}, "bytes"),
        el("th", {}, "frames in view"),
      ),
    );
    const viewCells: HTMLElement[] = [];
    for (const owner of owners) {
      const frames = map.counts[owner.id] ?? 0;
      const viewCell = el("td", { class: "num", "data-testid": "legend-view-frames" }, "");
      viewCells.push(viewCell);
      legend.append(
        el(
          "tr",
          { "data-testid": "legend-row", "data-owner": owner.key, title: owner.description },
          el("td", {}, el("span", { class: "swatch", style: `background:${owner.colour}` })),
          el("td", { "data-testid": "legend-label" }, owner.label),
          el("td", { class: "num", "data-testid": "legend-frames" }, count(frames)),
          el("td", { class: "num", "data-testid": "legend-bytes" }, bytes(frames * map.pageSize)),
          viewCell,
        ),
      );
    }

    const from = el("input", { type: "text", "data-testid": "zoom-from", size: "16" });
    const to = el("input", { type: "text", "data-testid": "zoom-to", size: "16" });
    const apply = el("button", { type: "button", "data-testid": "zoom-apply" }, "zoom");
    const out = el("button", { type: "button", "data-testid": "zoom-out" }, "zoom out");
    const reset = el("button", { type: "button", "data-testid": "zoom-reset" }, "whole map");
    const range = el("span", { "data-testid": "zoom-range", class: "note" });
    const hover = el("div", { "data-testid": "frame-map-hover", class: "note" }, "\u00a0");
    const canvas = el("canvas", {
      width: String(columns * cellPx),
      height: String(rows * cellPx),
      "data-testid": "frame-map-canvas",
    });
    parent.append(
      el(
        "div",
        { class: "controls" },
        "physical range ",
        from,
        " .. ",
        to,
        " ",
        apply,
        out,
        reset,
        " ",
        range,
      ),
      el(
        "p",
        { class: "note" },
        "Drag across the map to zoom in; each cell shows the owner of most of its frames.",
      ),
      canvas,
      hover,
      legend,
    );

    const context = canvas.getContext("2d")!;
    let framesPerCell = 1;

    function parseAddress(text: string): number {
      const t = text.trim().toLowerCase().replace(/_/g, "");
      const value = t.startsWith("0x") ? parseInt(t.slice(2), 16) : Number(t);
      return Number.isFinite(value) ? value : NaN;
    }

    function draw(): void {
      const cells = columns * rows;
      const span = view.to - view.from;
      framesPerCell = Math.max(1, Math.ceil(span / cells));
      const used = Math.ceil(span / framesPerCell);
      const perCell = new Float64Array(used * owners.length);
      const runs = map.runs;
      for (let i = 0; i < runs.length; i += 3) {
        const low = Math.max(runs[i]!, view.from);
        const high = Math.min(runs[i]! + runs[i + 1]!, view.to);
        if (low >= high) continue;
        const owner = runs[i + 2]!;
        let at = low;
        while (at < high) {
          const cell = Math.floor((at - view.from) / framesPerCell);
          const cellEnd = Math.min(high, view.from + (cell + 1) * framesPerCell);
          perCell[cell * owners.length + owner]! += cellEnd - at;
          at = cellEnd;
        }
      }
      context.fillStyle = "#ffffff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      for (let cell = 0; cell < used; cell++) {
        let best = 0;
        for (let o = 1; o < owners.length; o++)
          if (perCell[cell * owners.length + o]! > perCell[cell * owners.length + best]!) best = o;
        context.fillStyle = owners[best]!.colour;
        context.fillRect(
          (cell % columns) * cellPx,
          Math.floor(cell / columns) * cellPx,
          cellPx,
          cellPx,
        );
      }
      const counts = ownerCounts(map, view.from, view.to);
      owners.forEach((owner, i) => {
        viewCells[i]!.textContent = count(counts[owner.id]!);
      });
      from.value = hex(view.from * map.pageSize);
      to.value = hex(view.to * map.pageSize);
      range.textContent = `${hex(view.from * map.pageSize)} .. ${hex(view.to * map.pageSize)}: ${count(span)} frames, ${count(framesPerCell)} per cell`;
      range.setAttribute("data-from-frame", String(view.from));
      range.setAttribute("data-to-frame", String(view.to));
    }

    function setView(fromFrame: number, toFrame: number): void {
      const low = Math.max(map.firstFrame, Math.floor(fromFrame));
      const high = Math.min(map.endFrame, Math.ceil(toFrame));
      if (!(high > low)) return;
      view.from = low;
      view.to = high;
      draw();
    }

    function frameAt(event: MouseEvent): number {
      const box = canvas.getBoundingClientRect();
      const x = Math.floor(((event.clientX - box.left) / box.width) * columns);
      const y = Math.floor(((event.clientY - box.top) / box.height) * rows);
      const cell =
        Math.max(0, Math.min(rows - 1, y)) * columns + Math.max(0, Math.min(columns - 1, x));
      return view.from + cell * framesPerCell;
    }

    apply.addEventListener("click", () => {
      const low = parseAddress(from.value);
      const high = parseAddress(to.value);
      if (Number.isNaN(low) || Number.isNaN(high)) {
        range.textContent = "give the range as physical addresses, hex (0x...) or decimal";
        return;
      }
      setView(low / map.pageSize, high / map.pageSize);
    });
    out.addEventListener("click", () => {
      const span = view.to - view.from;
      setView(view.from - span, view.to + span);
    });
    reset.addEventListener("click", () => setView(map.firstFrame, map.endFrame));
    let dragFrom = -1;
    canvas.addEventListener("mousedown", (event) => {
      dragFrom = frameAt(event);
    });
    canvas.addEventListener("mouseup", (event) => {
      if (dragFrom < 0) return;
      const end = frameAt(event);
      // Cells past the end of the view hold no frames: the drag stops at the view's end.
      const low = Math.min(view.to, Math.min(dragFrom, end));
      const high = Math.min(view.to, Math.max(dragFrom, end) + framesPerCell);
      dragFrom = -1;
      if (high - low > framesPerCell) setView(low, high);
    });
    canvas.addEventListener("mousemove", (event) => {
      const frame = frameAt(event);
      if (frame >= view.to) {
        hover.textContent = "\u00a0";
        return;
      }
      const counts = ownerCounts(map, frame, Math.min(view.to, frame + framesPerCell));
      const parts = owners
        .filter((o) => counts[o.id]! > 0)
        .map((o) => `${o.label} ${count(counts[o.id]!)}`);
      hover.textContent = `${hex(frame * map.pageSize)}${framesPerCell > 1 ? ` (+${count(framesPerCell)} frames)` : ""}: ${parts.join(", ")}`;
    });
    draw();
  }

  // ---------------------------------------------------------------- address spaces

  const spacesSection = section("spaces", "Address spaces");
  if (data.spaces.length === 0) {
    spacesSection.append(
      el("p", { class: "note", "data-testid": "spaces-none" }, "no VMM: no address spaces"),
    );
  }
  const KIND_COLOURS: Record<string, string> = {
    heap: "#1f78b4",
    anonymous: "#a6cee3",
    stack: "#33a02c",
    fixed: "#6a3d9a",
    guard: "#7f7f7f",
  };
  for (const space of data.spaces) {
    const block = el("div", {
      class: "space",
      "data-testid": "space",
      "data-space": String(space.id),
    });
    block.append(
      el(
        "h3",
        {},
        `${space.kernel ? "kernel space" : `user space ${space.id}`}: ${space.lowText} .. ${space.highText}, ${space.regions.length} regions, ${count(space.pageTableFrames)} page-table frames`,
      ),
    );
    // Widths grow with log2 of the size: a 4 KiB guard and a 64 TiB direct map both stay visible.
    const weight = (sizeBytes: number): number => 1 + Math.log2(Math.max(1, sizeBytes / 4096));
    const total = space.regions.reduce(
      (sum, r) => sum + weight(r.sizeBytes) + (r.guardBytes > 0 ? weight(r.guardBytes) : 0),
      0,
    );
    const width = 1000;
    const height = 36;
    const strip = svg("svg", {
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      class: "strip",
      "data-testid": "space-strip",
    });
    let x = 0;
    for (const region of space.regions) {
      if (region.guardBytes > 0) {
        const w = (weight(region.guardBytes) / total) * width;
        const guard = svg("rect", {
          x,
          y: 4,
          width: w,
          height: height - 8,
          fill: "url(#guard-hatch)",
          stroke: "#555",
        });
        const title = svg("title");
        title.textContent = `guard below ${region.name}: ${bytes(region.guardBytes)}`;
        guard.append(title);
        strip.append(guard);
        x += w;
      }
      const w = (weight(region.sizeBytes) / total) * width;
      const colour = KIND_COLOURS[region.kind] ?? "#cccccc";
      const pages = region.sizeBytes / 4096;
      const rect = svg("rect", {
        x,
        y: 4,
        width: w,
        height: height - 8,
        fill: colour,
        "fill-opacity": 0.3,
        stroke: "#333",
      });
      const title = svg("title");
      title.textContent = `${region.name} (${region.kind}) at ${region.startText}: ${bytes(region.sizeBytes)} reserved, ${count(region.committedPages)} pages committed`;
      rect.append(title);
      strip.append(rect);
      if (region.committedPages > 0) {
        const committed = svg("rect", {
          x,
          y: 4,
          width: Math.max(1, (region.committedPages / pages) * w),
          height: height - 8,
          fill: colour,
        });
        committed.append(title.cloneNode(true));
        strip.append(committed);
      }
      x += w;
    }
    const defs = svg("defs");
    const pattern = svg("pattern", {
      id: "guard-hatch",
      width: 6,
      height: 6,
      patternUnits: "userSpaceOnUse",
      patternTransform: "rotate(45)",
    });
    pattern.append(
      svg("rect", { width: 6, height: 6, fill: "#eeeeee" }),
      svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#555", "stroke-width": 2 }),
    );
    defs.append(pattern);
    strip.prepend(defs);
    block.append(strip);

    const table = el(
      "table",
      { class: "regions", "data-testid": "regions" },
      el(
        "tr",
        {},
        ...["start", "size", "kind", "name", "rights", "committed", "zero-page", "guard"].map((h) =>
          el("th", {}, h),
        ),
      ),
    );
    for (const region of space.regions) {
      const rights = `r${region.protection.write ? "w" : "-"}${region.protection.execute ? "x" : "-"} ${region.protection.user ? "user" : "kernel"}`;
      table.append(
        el(
          "tr",
          { "data-testid": "region-row", "data-kind": region.kind },
          el("td", { class: "mono" }, region.startText),
          el("td", { class: "num" }, bytes(region.sizeBytes)),
          el(
            "td",
            {},
            el("span", {
              class: "swatch",
              style: `background:${KIND_COLOURS[region.kind] ?? "#ccc"}`,
            }),
            ` ${region.kind}`,
          ),
          el("td", {}, region.name),
          el("td", { class: "mono" }, rights),
          el(
            "td",
            { class: "num", "data-testid": "region-committed" },
            count(region.committedPages),
          ),
          el("td", { class: "num" }, count(region.zeroPages)),
          el("td", { class: "num" }, region.guardBytes > 0 ? bytes(region.guardBytes) : ""),
        ),
      );
    }
    block.append(table);
    spacesSection.append(block);
  }

  // ---------------------------------------------------------------- time series

  const series = data.series;
  const chartsSection = section("charts", "Over the run");
  if (series.step.length === 0) {
    chartsSection.append(el("p", { class: "note" }, "no samples were recorded"));
  }

  function lineChart(
    id: string,
    title: string,
    lines: Line[],
    format: (v: number) => string,
  ): void {
    const shown = lines.filter(
      (l) => l.values.length === series.step.length && l.values.length > 0,
    );
    if (shown.length === 0) return;
    const width = 640;
    const height = 220;
    const left = 80;
    const right = 16;
    const top = 12;
    const bottom = 28;
    const xs = series.step;
    const xMin = Math.min(...xs);
    const xMax = Math.max(...xs);
    let yMin = Infinity;
    let yMax = -Infinity;
    for (const line of shown)
      for (const v of line.values)
        if (v !== null) {
          yMin = Math.min(yMin, v);
          yMax = Math.max(yMax, v);
        }
    if (!Number.isFinite(yMin)) {
      yMin = 0;
      yMax = 1;
    }
    yMin = Math.min(0, yMin);
    if (yMax === yMin) yMax = yMin + 1;
    const px = (x: number): number =>
      left + (xMax === xMin ? 0.5 : (x - xMin) / (xMax - xMin)) * (width - left - right);
    const py = (y: number): number =>
      top + (1 - (y - yMin) / (yMax - yMin)) * (height - top - bottom);
    const chart = svg("svg", {
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      "data-testid": `chart-${id}`,
    });
    chart.append(svg("line", { x1: left, y1: top, x2: left, y2: height - bottom, stroke: "#999" }));
    chart.append(
      svg("line", {
        x1: left,
        y1: height - bottom,
        x2: width - right,
        y2: height - bottom,
        stroke: "#999",
      }),
    );
    for (const y of [yMin, (yMin + yMax) / 2, yMax]) {
      const label = svg("text", { x: left - 6, y: py(y) + 4, "text-anchor": "end", class: "tick" });
      label.textContent = format(y);
      chart.append(label);
    }
    for (const x of [xMin, xMax]) {
      const label = svg("text", {
        x: px(x),
        y: height - 8,
        "text-anchor": x === xMin ? "start" : "end",
        class: "tick",
      });
      label.textContent = `${count(x)} ops`;
      chart.append(label);
    }
    for (const line of shown) {
      let path = "";
      line.values.forEach((v, i) => {
        if (v === null) return;
        path += `${path === "" || line.values[i - 1] === null ? "M" : "L"}${px(xs[i]!).toFixed(1)},${py(v).toFixed(1)}`;
      });
      if (path !== "")
        chart.append(
          svg("path", { d: path, fill: "none", stroke: line.colour, "stroke-width": 1.5 }),
        );
    }
    const keys = el(
      "div",
      { class: "keys" },
      ...shown.map((line) => {
        const last = line.values[line.values.length - 1];
        return el(
          "span",
          { class: "key", "data-testid": "chart-key" },
          el("span", { class: "swatch", style: `background:${line.colour}` }),
          ` ${line.label}: `,
          el(
            "span",
            { "data-testid": "chart-last" },
            last === null || last === undefined ? "n/a" : format(last),
          ),
        );
      }),
    );
    chartsSection.append(el("div", { class: "chart" }, el("h3", {}, title), chart, keys));
  }

  const plain = (v: number): string => count(Math.round(v));
  lineChart(
    "heap",
    "Heap: live bytes and footprint",
    [
      { label: "live", colour: "#1f78b4", values: series.heapLiveBytes },
      { label: "footprint", colour: "#e31a1c", values: series.heapFootprintBytes },
    ],
    bytes,
  );
  lineChart(
    "fragmentation",
    "Heap fragmentation (footprint / live)",
    [{ label: "fragmentation", colour: "#6a3d9a", values: series.fragmentation }],
    (v) => v.toFixed(2),
  );
  lineChart(
    "pmm",
    "PMM free frames per zone",
    Object.entries(series.pmmFreeFrames).map(([zone, values], i) => ({
      label: zone,
      colour: ["#b15928", "#ff7f00", "#33a02c"][i % 3]!,
      values,
    })),
    plain,
  );
  lineChart(
    "faults",
    "Page faults (cumulative)",
    [
      { label: "demand-zero", colour: "#1f78b4", values: series.demandZeroFaults },
      { label: "heap growth", colour: "#33a02c", values: series.heapGrowthFaults },
      { label: "copy-on-write", colour: "#ff7f00", values: series.copyOnWriteFaults },
      { label: "bad", colour: "#e31a1c", values: series.badFaults },
    ],
    plain,
  );
  // Hit rate between consecutive samples, over all CPUs.
  const rates: Array<number | null> = series.step.map((_, i) => {
    let hits = 0;
    let misses = 0;
    series.tlbHits.forEach((cpuHits, cpu) => {
      hits += cpuHits[i]! - (i > 0 ? cpuHits[i - 1]! : 0);
      misses += series.tlbMisses[cpu]![i]! - (i > 0 ? series.tlbMisses[cpu]![i - 1]! : 0);
    });
    return hits + misses > 0 ? hits / (hits + misses) : null;
  });
  if (series.tlbHits.length > 0)
    lineChart(
      "tlb",
      "TLB hit rate between samples (all CPUs)",
      [{ label: "hit rate", colour: "#1f78b4", values: rates }],
      (v) => percent(v),
    );
  document.body.setAttribute("data-ready", "true");
}
