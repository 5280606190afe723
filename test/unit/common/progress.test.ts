import { afterEach, describe, expect, it, vi } from 'vitest';
import { clock, fitWidth, StatusLine, withSpinner, writeAbove } from '../../../common/progress.js';

function fakeStream(isTTY: boolean, columns = 80) {
  const chunks: string[] = [];
  return { chunks, isTTY, columns, write: (text: string) => chunks.push(text), text: () => chunks.join('') };
}

/** What a terminal shows: each `\r\x1b[K` wipes the current row. */
function screen(text: string): string[] {
  const clear = '\r\x1b[K';
  const rows: string[] = [''];
  for (const part of text.replaceAll(clear, '\0').split(/(\0|\n)/)) {
    if (part === '\0') rows[rows.length - 1] = '';
    else if (part === '\n') rows.push('');
    else rows[rows.length - 1] += part;
  }
  return rows;
}

afterEach(() => vi.useRealTimers());

describe('clock and fitWidth', () => {
  it('formats elapsed time', () => {
    expect([clock(7_400), clock(65_000), clock(3_720_000)]).toEqual(['7s', '1m05s', '1h02m']);
  });
  it('cuts a line to fit one terminal row', () => {
    expect(fitWidth('abcdefghij', 8)).toBe('abcdef…');
    expect(fitWidth('a\nb', 8)).toBe('a b');
    expect(fitWidth('abc', undefined)).toBe('abc');
  });
});

describe('StatusLine', () => {
  it('redraws in place on a terminal, with lines that stay above it', () => {
    const out = fakeStream(true);
    const line = new StatusLine({ stream: out });
    line.update('step 0 [░░] 0%');
    line.update('step 0 [█░] 50%');
    line.print('step 0 done');
    line.update('step 1 [█░] 50%');
    line.stop();
    expect(screen(out.text())).toEqual(['step 0 done', '']);
  });

  it('keeps log lines written through writeAbove out of the live line', () => {
    const out = fakeStream(true);
    const line = new StatusLine({ stream: out });
    line.update('waiting');
    writeAbove(out, 'a log line\n');
    expect(screen(out.text())).toEqual(['a log line', 'waiting']);
    line.stop('done');
    expect(screen(out.text())).toEqual(['a log line', 'done', '']);
  });

  it('prints only milestones, once each, when not on a terminal', () => {
    const out = fakeStream(false);
    const line = new StatusLine({ stream: out });
    line.update('a', true);
    line.update('a', true);
    line.update('redraw only');
    line.update('b', true);
    line.stop('end');
    expect(out.text()).toBe('a\nb\nend\n');
  });
});

describe('withSpinner', () => {
  it('animates the elapsed time, the title and the detail on a terminal, and leaves the outcome', async () => {
    vi.useFakeTimers();
    const out = fakeStream(true);
    let shown: string | undefined;
    const result = withSpinner('building X', { stream: out, expected: 'about 2 min' }, async (detail) => {
      detail('go: downloading y');
      await vi.advanceTimersByTimeAsync(2_050);
      shown = screen(out.text()).at(-1);
      return 42;
    });
    await expect(result).resolves.toBe(42);
    expect(shown).toMatch(/^[⠋-⠏] 2s {2}building X \(expected about 2 min\) {2}go: downloading y$/);
    expect(screen(out.text())).toEqual(['✓ building X: 2s', '']);
  });

  it('writes a start line, a heartbeat and the outcome elsewhere', async () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const failing = withSpinner(
      'pip install',
      { stream: fakeStream(false), plain: (line) => lines.push(line), heartbeatMs: 1_000 },
      async (detail) => {
        detail('Collecting jax');
        await vi.advanceTimersByTimeAsync(1_500);
        throw new Error('pip failed');
      },
    );
    await expect(failing).rejects.toThrow('pip failed');
    expect(lines).toEqual([
      'pip install…',
      'pip install: still running after 1s: Collecting jax',
      '✗ pip install: failed after 1s',
    ]);
  });
});
