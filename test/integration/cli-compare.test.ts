/**
 * `mel compare` as a user runs it (child processes), on a MEL run and a GRPO baseline trained in the test, the first
 * one evaluated on held-out problems: the JSON holds each run's per-step series from MongoDB, the eval beside "not
 * evaluated", and the configuration differences; the files are an HTML page and a PNG per chart; an unknown run is
 * named in the error.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvalReport } from '../../cli/eval-command.js';
import type { Comparison } from '../../cli/report/compare.js';
import { generateBuiltinDataset } from '../../mel/index.js';
import type { StepMetricsDoc } from '../../store/collections.js';
import { COLLECTIONS, connectMongo, type MongoHandle } from '../../store/mongo.js';
import { mel, melJson, melOk, writeConfigFile } from './cli-support.js';
import { shortRunConfig } from './mel-support.js';
import { endpoints, uniqueId } from './support.js';

describe('mel compare on a MEL run and a GRPO baseline', () => {
  const melConfig = shortRunConfig({ steps: 2, batchSize: 2, groupSize: 2 });
  const grpoConfig = shortRunConfig({
    runId: uniqueId('grpo'),
    steps: 1,
    batchSize: 2,
    groupSize: 2,
    seed: 12,
    mode: 'grpo',
  });
  const runIds = [melConfig.runId, grpoConfig.runId];
  let mongo: MongoHandle;
  let evaluated: EvalReport;

  beforeAll(async () => {
    mongo = await connectMongo(endpoints);
    for (const config of [melConfig, grpoConfig]) {
      const trained = await mel(['train', await writeConfigFile(config), '--with-workers']);
      expect(trained.code, trained.stderr).toBe(0);
    }
    const data = path.join(await mkdtemp(path.join(tmpdir(), 'mel-compare-')), 'held-out.jsonl');
    const heldOut = generateBuiltinDataset({ seed: 0, count: 63 }).slice(60);
    await writeFile(
      data,
      heldOut.map(({ id, question, answer }) => JSON.stringify({ id, question, answer })).join('\n'),
    );
    evaluated = await melJson<EvalReport>([
      'eval',
      melConfig.runId,
      '--data',
      data,
      '--k',
      '2',
      '--max-tokens',
      '64',
      '--with-workers',
    ]);
  });

  afterAll(async () => {
    await mongo?.close();
  });

  it('--json: every recorded step of each run, the eval beside "not evaluated", and the differences', async () => {
    const comparison = await melJson<Comparison>(['compare', ...runIds]);
    expect(comparison.runs.map((r) => [r.runId, r.mode, r.stepsRecorded])).toEqual([
      [melConfig.runId, 'mel', 2],
      [grpoConfig.runId, 'grpo', 1],
    ]);
    expect(comparison.steps).toEqual([0, 1]);
    const stored = await mongo.db
      .collection<StepMetricsDoc>(COLLECTIONS.stepMetrics)
      .find({ runId: melConfig.runId })
      .sort({ step: 1 })
      .toArray();
    expect(comparison.series.passRate[0]!.values).toEqual(stored.map((m) => m.passRate));
    expect(comparison.series.passRate[1]!.values[1]).toBeNull();
    expect(comparison.series.nllLoss[1]!.absent).toBe('GRPO baseline: no NLL loss');

    expect(comparison.evals).toHaveLength(1);
    const [group] = comparison.evals;
    expect(group!.data.sha256).toBe(evaluated.data.sha256);
    expect(group!.runs[0]!.evals.map((e) => [e.evalId, e.step, e.metrics?.pass1])).toEqual([
      [evaluated.evalId, 1, evaluated.metrics.pass1],
    ]);
    expect(group!.runs[1]!.evals).toEqual([]);

    expect(comparison.configDifferences.map((d) => d.path)).toEqual(['seed', 'mode', 'steps']);
    expect(comparison.configDifferences.find((d) => d.path === 'mode')!.values).toEqual([
      { runId: melConfig.runId, present: true, value: 'mel' },
      { runId: grpoConfig.runId, present: true, value: 'grpo' },
    ]);
  });

  it('writes compare.html and a PNG per chart, taller by a legend row per run', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'mel-compare-out-'));
    const stdout = await melOk(['compare', ...runIds, '--out', out]);
    expect(stdout).toContain(`wrote ${path.join(out, 'compare.html')}`);
    expect(stdout).toContain('  mode: ');
    const html = await readFile(path.join(out, 'compare.html'), 'utf8');
    for (const name of [
      'reward.png',
      'mixed-groups.png',
      'accepted.png',
      'retention.png',
      'grpo-loss.png',
      'nll-loss.png',
    ]) {
      const png = await readFile(path.join(out, name));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([640, 360 + 2 * 16 + 10]);
      expect(html).toContain(`<img src="${name}"`);
    }
    expect(html).toContain(evaluated.evalId);
    expect(html).toContain('not evaluated');
  });

  it('names an unknown run', async () => {
    const result = await mel(['compare', melConfig.runId, 'no-such-run-x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no run named no-such-run-x');
  });
});
