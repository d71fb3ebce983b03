import { reportClient } from "./client.js";
import type { ReportData } from "./data.js";

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px 24px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 28px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.note { color: #555; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px; }
.figure { border: 1px solid #ddd; border-radius: 4px; padding: 8px; }
.figure-label { color: #555; font-size: 12px; }
.figure-value { font-size: 20px; font-weight: 600; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, monospace; }
.swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #888; vertical-align: middle; }
canvas { border: 1px solid #ccc; image-rendering: pixelated; cursor: crosshair; max-width: 100%; }
.controls { margin: 8px 0; }
.controls input { font-family: ui-monospace, monospace; }
.chart { display: inline-block; vertical-align: top; margin-right: 16px; }
.tick { font-size: 10px; fill: #555; }
.keys { font-size: 12px; }
.key { margin-right: 12px; }
svg.strip { max-width: 100%; }
`;

/** JSON that is safe inside a <script> element: no "</script>", no "<!--". */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot" }[c]};`,
  );
}

/**
 * The report as one self-contained HTML file: inline CSS, the page script and the data as JSON
 * in `<script type="application/json" id="allockit-data">`. It loads nothing from anywhere.
 */
export function renderReport(data: ReportData): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1 id="title">${escapeHtml(data.title)}</h1><div id="subtitle" class="note"></div></header>
<main id="report"></main>
<script type="application/json" id="allockit-data">${scriptSafeJson(data)}</script>
<script>(${reportClient.toString()})();</script>
</body>
</html>
`;
}
