/**
 * Terminal niceties every command can share: colour that switches itself off for NO_COLOR and
 * for output that is not a terminal, and a progress bar that is drawn on a terminal's stderr
 * only, so pipes, files and `--json` output never see it.
 */

/** The parts of a stream these helpers look at (process.stdout and process.stderr fit). */
export interface OutputStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** Text styles; each returns its argument unchanged when colour is off. */
export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
}

/**
 * True when text written to `stream` may carry ANSI colour: the stream is a terminal and
 * NO_COLOR (https://no-color.org) is unset or empty.
 */
export function colourEnabled(
  stream: OutputStream = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  const noColour = env.NO_COLOR;
  return stream.isTTY === true && (noColour === undefined || noColour === "");
}

function sgr(open: number, close: number): (text: string) => string {
  return (text) => `\x1b[${open}m${text}\x1b[${close}m`;
}

const plain = (text: string): string => text;

/** The styles for output written to `stream` (see {@link colourEnabled}). */
export function createStyle(
  stream: OutputStream = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): Style {
  const enabled = colourEnabled(stream, env);
  if (!enabled) {
    return { enabled, bold: plain, dim: plain, red: plain, green: plain, yellow: plain };
  }
  return {
    enabled,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
  };
}

/** Width of the bar between the brackets, in characters. */
export const PROGRESS_BAR_WIDTH = 24;

/** `[#########...............]  3/8` for `done` of `total`. */
export function formatProgressBar(done: number, total: number, width = PROGRESS_BAR_WIDTH): string {
  const share = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const filled = Math.round(share * width);
  const count = String(total).length;
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(done).padStart(count)}/${total}`;
}

/**
 * A one-line progress bar redrawn in place. It draws only when its stream is a terminal
 * (by default stderr), so it is a no-op under pipes, in CI logs and in tests.
 */
export class ProgressBar {
  readonly active: boolean;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly stream: OutputStream = process.stderr,
  ) {
    this.active = stream.isTTY === true;
  }

  /** Shows `done` of `total`, and what is being done now. */
  update(done: number, total: number, doing = ""): void {
    if (!this.active) return;
    const line = `${this.label} ${formatProgressBar(done, total)}${doing === "" ? "" : ` ${doing}`}`;
    this.stream.write(`\r\x1b[K${line}`);
    this.drawn = true;
  }

  /** Erases the bar, leaving the cursor at the start of an empty line. */
  clear(): void {
    if (!this.active || !this.drawn) return;
    this.stream.write("\r\x1b[K");
    this.drawn = false;
  }
}
