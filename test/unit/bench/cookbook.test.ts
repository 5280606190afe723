import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CookbookGrpoOptionsSchema,
  DRIVER,
  cookbookResult,
  driverArgs,
  parseDriverLine,
  runCookbookGrpo,
  writeProblemsJsonl,
  type CookbookStep,
  type DriverOutcome,
} from '../../../bench/cookbook.js';

const input = {
  engineUrl: 'http://127.0.0.1:18555',
  batchSize: 16,
  groupSize: 8,
  maxTokens: 1536,
  steps: 3,
  tokenizerDir: '/models/tiny',
  datasetFile: '/data/problems.jsonl',
  timeoutMs: 60_000,
};

const step = (index: number, seconds: number): CookbookStep => ({ type: 'step', step: index, seconds });

function outcome(overrides: Partial<DriverOutcome>): DriverOutcome {
  return { steps: [], exitCode: 0, signal: null, stderrTail: [], ...overrides };
}

describe('cookbook driver arguments', () => {
  it('passes every option as a flag, defaults filled in, optional ones only when set', () => {
    const args = driverArgs(CookbookGrpoOptionsSchema.parse(input));
    expect(args[0]).toBe(DRIVER);
    expect(args.slice(1).join(' ')).toBe(
      '--base-url http://127.0.0.1:18555 --dataset /data/problems.jsonl --tokenizer /models/tiny ' +
        '--batch-size 16 --group-size 8 --max-tokens 1536 --steps 3 --seed 0 --lora-rank 8 ' +
        '--loss-fn importance_sampling --learning-rate 0.0001',
    );
    const more = driverArgs(
      CookbookGrpoOptionsSchema.parse({
        ...input,
        baseModel: 'Qwen/Qwen3-0.6B',
        logDir: '/tmp/log',
        lossFn: 'ppo',
      }),
    );
    expect(more).toEqual(
      expect.arrayContaining(['--base-model', 'Qwen/Qwen3-0.6B', '--log-dir', '/tmp/log']),
    );
    expect(more[more.indexOf('--loss-fn') + 1]).toBe('ppo');
  });

  it('rejects options the driver cannot run', () => {
    expect(() => CookbookGrpoOptionsSchema.parse({ ...input, groupSize: 0 })).toThrow();
    expect(() => CookbookGrpoOptionsSchema.parse({ ...input, engineUrl: 'not a url' })).toThrow();
  });
});

describe('cookbook driver output', () => {
  it('reads step and summary lines and ignores anything else', () => {
    expect(parseDriverLine('{"type": "step", "step": 0, "seconds": 1.5, "samplingSeconds": 1.0}')).toEqual({
      type: 'step',
      step: 0,
      seconds: 1.5,
      samplingSeconds: 1.0,
    });
    expect(parseDriverLine('{"type": "summary", "ok": false, "error": "boom"}')).toEqual({
      type: 'summary',
      ok: false,
      error: 'boom',
      stepSeconds: [],
    });
    expect(parseDriverLine('Saved checkpoints')).toBeUndefined();
    expect(parseDriverLine('{"type": "step"}')).toBeUndefined();
  });

  it("returns the driver's summary, and a failure when steps are missing", () => {
    const summary = {
      type: 'summary' as const,
      ok: true,
      error: null,
      stepSeconds: [2, 1, 1],
      totalSeconds: 9,
    };
    expect(cookbookResult(outcome({ summary }), 3)).toEqual({
      ok: true,
      error: null,
      stepSeconds: [2, 1, 1],
      totalSeconds: 9,
    });
    expect(cookbookResult(outcome({ summary: { ...summary, stepSeconds: [2] } }), 3)).toMatchObject({
      ok: false,
      error: '1 of 3 steps ran',
    });
  });

  it('says why there is no summary: a timeout, an exit or a spawn error, with the steps streamed so far', () => {
    const steps = [step(0, 2.5)];
    expect(cookbookResult(outcome({ steps, timedOutAfterMs: 30_000, signal: 'SIGTERM' }), 3)).toEqual({
      ok: false,
      error: 'timed out after 30 s (1 of 3 steps done)',
      stepSeconds: [2.5],
    });
    const crashed = cookbookResult(
      outcome({ steps, exitCode: 1, stderrTail: ['Traceback', 'ValueError: x'] }),
      3,
    );
    expect(crashed.error).toBe(
      'the driver exited with code 1 without a summary (1 of 3 steps done):\nTraceback\nValueError: x',
    );
    expect(cookbookResult(outcome({ spawnError: 'ENOENT' }), 3).error).toBe(
      'could not start the driver: ENOENT',
    );
  });
});

describe('runCookbookGrpo with a stand-in driver', () => {
  async function fakePython(script: string): Promise<string> {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'fake-python-')), 'python');
    await writeFile(file, `#!/bin/sh\n${script}\n`);
    await chmod(file, 0o755);
    return file;
  }

  it('streams steps and returns the summary', async () => {
    const python = await fakePython(
      [
        `echo '{"type":"step","step":0,"seconds":1.25}'`,
        'echo "cookbook log line" >&2',
        `echo '{"type":"summary","ok":true,"error":null,"stepSeconds":[1.25]}'`,
      ].join('\n'),
    );
    const steps: CookbookStep[] = [];
    const logs: string[] = [];
    const result = await runCookbookGrpo(
      { ...input, steps: 1 },
      { python, onStep: (s) => steps.push(s), onLog: (line) => logs.push(line) },
    );
    expect(result).toEqual({ ok: true, error: null, stepSeconds: [1.25] });
    expect(steps).toEqual([step(0, 1.25)]);
    expect(logs).toEqual(['cookbook log line']);
  });

  it('kills a driver that runs past the timeout', async () => {
    const python = await fakePython(`echo '{"type":"step","step":0,"seconds":0.5}'\nexec sleep 30`);
    const started = Date.now();
    const result = await runCookbookGrpo({ ...input, timeoutMs: 500 }, { python });
    expect(result).toEqual({
      ok: false,
      error: 'timed out after 0.5 s (1 of 3 steps done)',
      stepSeconds: [0.5],
    });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reports a crashed driver as a failed result', async () => {
    const python = await fakePython('echo "ConnectionError: refused" >&2\nexit 3');
    expect(await runCookbookGrpo(input, { python })).toEqual({
      ok: false,
      error: 'the driver exited with code 3 without a summary (0 of 3 steps done):\nConnectionError: refused',
      stepSeconds: [],
    });
  });
});

describe('writeProblemsJsonl', () => {
  it('writes one {"question","answer"} object per line', async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'problems-')), 'p.jsonl');
    await writeProblemsJsonl(file, [
      { id: 'a', question: 'Compute 1 + 1.', answer: '2' },
      { id: 'b', question: 'Compute 3/4 * 1/2.', answer: '3/8' },
    ]);
    expect(await readFile(file, 'utf8')).toBe(
      '{"question":"Compute 1 + 1.","answer":"2"}\n{"question":"Compute 3/4 * 1/2.","answer":"3/8"}\n',
    );
  });
});
