/**
 * Progress a person can follow, and a log can keep: one status line, redrawn in place when its stream is a
 * terminal; elsewhere a plain line at the start, at milestones and at the end, never a line per redraw.
 * Log lines and lines that stay go through `writeAbove`, so they appear above the live line instead of through it.
 */

export interface OutStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SPINNER_MS = 100;
const CLEAR_LINE = '\r\x1b[K';

/** Live lines on screen, oldest first: only the newest is drawn. */
const liveLines: StatusLine[] = [];

/** Writes `text` to `stream` above the live status line, if one is drawn. */
export function writeAbove(stream: OutStream, text: string): void {
  const top = liveLines.at(-1);
  top?.erase();
  stream.write(text);
  top?.draw();
}

/** `7s`, `1m05s`, `1h02m`: elapsed time at a glance. */
export function clock(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

export interface StatusLineOptions {
  /** Default: stderr. */
  stream?: OutStream;
  /** Redraw in place; default: whether the stream is a terminal. */
  live?: boolean;
  /** Live only: animate a spinner and the elapsed time, redrawn ten times a second. */
  spinner?: boolean;
  /** Where lines go when not live (default: the stream), e.g. a logger, so a piped log stays one format. */
  plain?: (line: string) => void;
}

/** One line of progress: see the module comment. */
export class StatusLine {
  readonly live: boolean;
  readonly startedAt = Date.now();
  private readonly stream: OutStream;
  private readonly plain: (line: string) => void;
  private readonly timer?: NodeJS.Timeout;
  private text = '';
  private lastPlain?: string;
  private frame = 0;
  private drawn = false;

  constructor(options: StatusLineOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.live = options.live ?? Boolean(this.stream.isTTY);
    this.plain = options.plain ?? ((line) => this.stream.write(`${line}\n`));
    if (!this.live) return;
    liveLines.push(this);
    if (options.spinner) this.timer = setInterval(() => this.tick(), SPINNER_MS).unref();
  }

  /** Live: shows `text` (a spinner line on its next tick). Otherwise prints it if `milestone` and new. */
  update(text: string, milestone = false): void {
    this.text = text;
    if (this.live) {
      if (!this.timer) this.draw();
    } else if (milestone && text !== this.lastPlain) {
      this.lastPlain = text;
      this.plain(text);
    }
  }

  /** A line that stays, above the live line. */
  print(line: string): void {
    if (this.live) writeAbove(this.stream, `${line}\n`);
    else this.plain(line);
  }

  /** Removes the live line; `finalLine`, if given, stays in its place. */
  stop(finalLine?: string): void {
    clearInterval(this.timer);
    this.erase();
    const index = liveLines.indexOf(this);
    if (index >= 0) liveLines.splice(index, 1);
    if (finalLine !== undefined) this.print(finalLine);
    liveLines.at(-1)?.draw();
  }

  /** @internal for writeAbove */
  erase(): void {
    if (!this.drawn) return;
    this.stream.write(CLEAR_LINE);
    this.drawn = false;
  }

  /** @internal for writeAbove */
  draw(): void {
    if (liveLines.at(-1) !== this || this.text === '') return;
    const prefix = this.timer ? `${SPINNER[this.frame % SPINNER.length]} ${clock(this.elapsedMs())}  ` : '';
    this.stream.write(`${CLEAR_LINE}${fitWidth(`${prefix}${this.text}`, this.stream.columns)}`);
    this.drawn = true;
  }

  elapsedMs(): number {
    return Date.now() - this.startedAt;
  }

  private tick(): void {
    this.frame += 1;
    this.draw();
  }
}

/** Cut to one terminal row: a wrapped line cannot be redrawn in place. */
export function fitWidth(line: string, columns: number | undefined): string {
  const chars = [...line.replace(/[\r\n\t]+/g, ' ')];
  if (!columns || chars.length < columns) return chars.join('');
  return `${chars.slice(0, Math.max(0, columns - 2)).join('')}…`;
}

export interface TaskOptions extends Omit<StatusLineOptions, 'spinner'> {
  /** How long this usually takes, as text ("about 2 min"): shown next to the elapsed time. */
  expected?: string;
  /** Not live: how often to say it is still running (default 60 s). */
  heartbeatMs?: number;
}

/**
 * Runs `work` under a spinner: on a terminal `⠋ 1m12s  title (expected about 4 min)  detail`, redrawn in place;
 * elsewhere a line at the start, one a minute and one at the end. `work` reports what it is doing through `detail`
 * (e.g. the last line of a build's output); the outcome stays as a line: `✓ title: 3m46s` or `✗ title: failed …`.
 */
export async function withSpinner<T>(
  title: string,
  options: TaskOptions,
  work: (detail: (text: string) => void) => Promise<T>,
): Promise<T> {
  const line = new StatusLine({ ...options, spinner: true });
  const expected = options.expected ? ` (expected ${options.expected})` : '';
  let detail = '';
  const show = () => line.update(`${title}${expected}${detail ? `  ${detail}` : ''}`);
  show();
  if (!line.live) line.print(`${title}${expected}…`);
  const heartbeat = line.live
    ? undefined
    : setInterval(
        () =>
          line.print(
            `${title}: still running after ${clock(line.elapsedMs())}${detail ? `: ${detail}` : ''}`,
          ),
        options.heartbeatMs ?? 60_000,
      ).unref();
  try {
    const result = await work((text) => {
      detail = text.trim();
      show();
    });
    line.stop(`✓ ${title}: ${clock(line.elapsedMs())}`);
    return result;
  } catch (error) {
    line.stop(`✗ ${title}: failed after ${clock(line.elapsedMs())}`);
    throw error;
  } finally {
    clearInterval(heartbeat);
  }
}
