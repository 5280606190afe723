import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  readStamp,
  replaceArtifact,
  staleArtifactWarning,
  StampSchema,
  thisMachine,
  type Stamp,
} from '../../../tiny-model/artifact.js';
import { compareBuilds } from '../../../tiny-model/compare.js';
import type { WarmStartReport } from '../../../tiny-model/export.js';
import { traceMismatches, roundReports } from '../../../tiny-model/trace.js';

const stamp: Stamp = {
  cacheKey: '0123456789abcdef',
  cacheKeyComputedOn: 'commit faa94df',
  commit: 'faa94df0000000000000000000000000000000000',
  builtAt: '2026-12-01T22:10:00.000Z',
  machine: { arch: 'x86_64', cpu: 'some CPU', cores: 2 },
  rounds: [],
};

describe('the committed artifact', () => {
  it('warns in one line, naming both keys and the rebuild command, only when the code changed', () => {
    expect(staleArtifactWarning(stamp, stamp.cacheKey)).toBeUndefined();
    const warning = staleArtifactWarning(stamp, 'fedcba9876543210')!;
    expect(warning).not.toContain('\n');
    expect(warning).toMatch(
      /0123456789abcdef.*faa94df.*fedcba9876543210.*npm run tiny-model -- rebuild --replace/,
    );
    expect(staleArtifactWarning(undefined, 'fedcba9876543210')).toMatch(/no stamp\.json/);
  });

  it('describes this machine', async () => {
    const machine = await thisMachine();
    expect(machine.cores).toBeGreaterThan(0);
    expect(machine.arch).not.toBe('');
  });

  let dir = '';
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is replaced as a whole: the model files, the stamp and the extra files', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'artifact-'));
    const [model, artifact] = [path.join(dir, 'model'), path.join(dir, 'artifact')];
    await mkdir(model);
    await writeFile(path.join(model, 'config.json'), '{}');
    await replaceArtifact(artifact, model, stamp, { 'trace.json': { steps: [] } });
    expect((await readdir(artifact)).sort()).toEqual(['config.json', 'stamp.json', 'trace.json']);
    expect(await readStamp(artifact)).toEqual(stamp);
    expect(JSON.parse(await readFile(path.join(artifact, 'trace.json'), 'utf8'))).toEqual({ steps: [] });
    await expect(replaceArtifact(artifact, model, { ...stamp, cacheKey: 'short' })).rejects.toThrow();
    expect(StampSchema.parse(await readStamp(artifact))).toEqual(stamp);
  });
});

const step = (n: number, nll: Record<string, number>) => ({ step: n, nll });

function report(
  steps: number,
  passRate: number,
  trace?: ReturnType<typeof step>[],
  basedOn?: WarmStartReport,
) {
  return {
    steps,
    final: { step: steps, passRate, mixedGroupFraction: 0.5, parseRate: null },
    createdAt: '2026-12-01T00:00:00.000Z',
    ...(trace ? { trace } : {}),
    ...(basedOn ? { basedOn } : {}),
  } as unknown as WarmStartReport;
}

describe('loss traces', () => {
  const recorded = [step(1, { rollout: 2.5 }), step(2, { rollout: 2.0, validation: 3.0 })];

  it('agree within the relative tolerance, and name the first loss that does not', () => {
    expect(
      traceMismatches(recorded, [step(1, { rollout: 2.5001 }), step(2, { rollout: 2.0, validation: 3.0 })]),
    ).toEqual([]);
    const off = traceMismatches(recorded, [
      step(1, { rollout: 2.5 }),
      step(2, { rollout: 2.01, validation: 3.0 }),
    ]);
    expect(off).toEqual([
      { step: 2, stream: 'rollout', expected: 2.0, actual: 2.01, relative: expect.closeTo(0.005, 6) },
    ]);
  });

  it('do not agree when a stream is missing on one side', () => {
    expect(traceMismatches(recorded, [step(1, { rollout: 2.5 }), step(2, { rollout: 2.0 })])).toHaveLength(1);
  });

  it('compare a rebuild round by round, using trace.json for a committed first round without a trace', () => {
    const committed = report(50, 0.45, undefined, report(250, 0.32));
    const rebuilt = report(50, 0.44, [step(1, { rollout: 1 })], report(250, 0.3, recorded));
    expect(roundReports(rebuilt).map((r) => r.steps)).toEqual([250, 50]);
    const lines = compareBuilds(committed, rebuilt, { round: 'solve', steps: recorded, recordedAt: '' });
    expect(lines[0]).toBe(
      'round 1: committed 250 steps, pass rate 0.320, parse rate -; rebuilt 250 steps, pass rate 0.300, parse rate -',
    );
    expect(lines[1]).toMatch(/per-step losses \(committed: trace\.json\): losses agree over 2 steps/);
    expect(lines[3]).toBe('  per-step losses: the committed report has none to compare');
  });
});
