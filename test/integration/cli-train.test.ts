/**
 * `mel train`, `runs`, `status`, `experiences`, `audit`, `report` and `replay` as a user runs them (child
 * processes), on a short run trained by `mel train --with-workers` against the engine double (MEL_ENGINE_URL). The
 * double's deterministic model yields both accepted and rejected meta-experiences on every machine, so both audits
 * are checked; the commands themselves do not depend on which engine trained the run.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperienceRow } from '../../cli/experience-commands.js';
import type { WrittenReport } from '../../cli/report-command.js';
import type { RunListing, StatusReport } from '../../cli/run-state.js';
import type { AuditRecord } from '../../store/audit.js';
import type { ReplayDiff } from '../../store/replay-diff.js';
import type { MetaExperienceDoc } from '../../store/documents.js';
import { COLLECTIONS, connectMongo, type MongoHandle } from '../../store/mongo.js';
import { STAGES } from '../../temporal/contracts/run.js';
import { mel, melJson, melOk, writeConfigFile } from './cli-support.js';
import { shortRunConfig } from './mel-support.js';
import { endpoints, useEngineDouble } from './support.js';

describe('mel train / runs / status / experiences / audit / report / replay on a real run', () => {
  useEngineDouble(
    { seed: 3, pCorrect: 0.5, pUnparseable: 0.25, pTruncated: 0, pReplayCorrect: 0.5 },
    { exportUrl: true },
  );
  const config = shortRunConfig({ steps: 2 });
  const { runId } = config;
  let file: string;
  let mongo: MongoHandle;
  let experiences: ExperienceRow[] = [];

  let metricsDir: string;
  const savedMetricsDir = process.env.MEL_METRICS_DIR;

  beforeAll(async () => {
    file = await writeConfigFile(config);
    mongo = await connectMongo(endpoints);
    metricsDir = await mkdtemp(path.join(tmpdir(), 'mel-metrics-'));
    process.env.MEL_METRICS_DIR = metricsDir;
  });

  afterAll(async () => {
    await mongo?.close();
    if (savedMetricsDir === undefined) delete process.env.MEL_METRICS_DIR;
    else process.env.MEL_METRICS_DIR = savedMetricsDir;
  });

  it('train starts the run, and a second train attaches to it and follows it to completion', async () => {
    expect(await melOk(['train', file, '--detach'])).toContain(`started run ${runId}`);

    // A step of the tiny model can take under a second: poll often enough to see it between its stages.
    const followed = await melOk(['train', file, '--with-workers'], undefined, {
      MEL_PROGRESS_POLL_MS: '100',
    });
    expect(followed).toContain(`attached to run ${runId}`);
    expect(followed).toMatch(/step 0 \(1\/2\) done: pass rate/);
    expect(followed).toMatch(/step 1 \(2\/2\) done: pass rate/);
    expect(followed).toMatch(/step 1 \(2\/2\) \[.*\] +\d+% +\S+ \(\d\/7\)/);
    expect(followed).toContain(`run:    ${runId}: completed`);
    expect(followed).toMatch(/\nSTEP +PASS.*\n0 .*\n1 /);
    // The workers' recordStep wrote the run's metrics.jsonl: a line per step.
    const lines = (await readFile(path.join(metricsDir, runId, 'metrics.jsonl'), 'utf8'))
      .trimEnd()
      .split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { step: number }).step)).toEqual([0, 1]);
  });

  it('train refuses to restart a finished run or to attach with another configuration', async () => {
    const again = await mel(['train', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`run ${runId} has already finished (COMPLETED)`);

    const changed = await writeConfigFile({ ...config, batchSize: config.batchSize + 1 });
    const different = await mel(['train', changed]);
    expect(different.code).toBe(1);
    expect(different.stderr).toContain('already exists with a different configuration');
  });

  it('runs lists the run as completed with all its steps recorded', async () => {
    const runs = await melJson<RunListing[]>(['runs']);
    expect(runs.find((run) => run.runId === runId)).toMatchObject({
      mode: 'mel',
      executionStatus: 'COMPLETED',
      phase: 'completed',
      totalSteps: 2,
      stepsRecorded: 2,
    });
    expect((await mel(['runs'])).stdout).toMatch(new RegExp(`${runId} +mel +COMPLETED +completed +1 +2/2`));
  });

  it('status shows the final state, the metrics of each step and the link to the history', async () => {
    const status = await melJson<StatusReport>(['status', runId]);
    expect(status.run).toMatchObject({ phase: 'completed', nextStep: 2, totalSteps: 2 });
    expect(status.run!.lastError).toBeUndefined();
    expect(status.recentMetrics.map((m) => m.step)).toEqual([0, 1]);
    expect(status.workflow!.url).toContain(`/workflows/mel-run%2F${runId}/`);
    const text = (await mel(['status', runId])).stdout;
    expect(text).toContain('phase:       completed');
    expect(text).toMatch(/recent steps\n +STEP +PASS/);
  });

  it('experiences lists every meta-experience of the run with its verdict, filtered by verdict and step', async () => {
    const stored = await mongo.db
      .collection<MetaExperienceDoc>(COLLECTIONS.metaExperiences)
      .find({ runId })
      .toArray();
    experiences = await melJson<ExperienceRow[]>(['experiences', runId]);
    expect(experiences.map((e) => e.id).sort()).toEqual(stored.map((d) => d._id).sort());
    for (const row of experiences) {
      const doc = stored.find((d) => d._id === row.id)!;
      expect(row.verdict).toEqual(doc.verdict);
    }
    const accepted = await melJson<ExperienceRow[]>(['experiences', runId, '--accepted']);
    const rejected = await melJson<ExperienceRow[]>(['experiences', runId, '--rejected']);
    expect(accepted.every((e) => e.verdict?.accepted === true)).toBe(true);
    expect(rejected.every((e) => e.verdict?.accepted === false)).toBe(true);
    expect(accepted.length + rejected.length).toBe(stored.length);
    const stepOne = await melJson<ExperienceRow[]>(['experiences', runId, '--step', '1']);
    expect(stepOne.map((e) => e.id)).toEqual(experiences.filter((e) => e.step === 1).map((e) => e.id));
    const both = await mel(['experiences', runId, '--accepted', '--rejected']);
    expect(both.code).toBe(1);
  });

  it('audit of an accepted meta-experience shows the whole chain down to the loss that internalized it', async () => {
    const accepted = experiences.find((e) => e.verdict?.accepted);
    if (!accepted) throw new Error('the run produced no accepted meta-experience');
    const audit = await melJson<AuditRecord>(['audit', accepted.id]);
    expect(audit.question!.text.length).toBeGreaterThan(0);
    expect(audit.correct!.reward).toBe(1);
    expect(audit.incorrect!.reward).toBe(0);
    expect(audit.validation!.correct).toBe(true);
    expect(audit.decision).toMatchObject({ accepted: true, reason: 'replay-verified' });
    expect(audit.internalization!.step).toBe(audit.step);
    expect(audit.internalization!.tokens).toBeGreaterThan(0);
    expect(audit.temporal.map((o) => o.stage)).toEqual([...STAGES]);
    for (const origin of audit.temporal) expect(origin.workflowId).toBe(`${runId}/step-${audit.step}`);
    const text = (await mel(['audit', accepted.id])).stdout;
    expect(text).toContain(audit.question!.text);
    expect(text).toContain('ACCEPTED (replay-verified)');
    expect(text).toContain('10. INTERNALIZATION');
  });

  it('audit of a rejected meta-experience shows its reason and that it was not internalized', async () => {
    const rejected = experiences.find((e) => e.verdict && !e.verdict.accepted);
    if (!rejected) throw new Error('the run produced no rejected meta-experience');
    const audit = await melJson<AuditRecord>(['audit', rejected.id]);
    expect(audit.decision!.accepted).toBe(false);
    expect(audit.decision!.reason).toBe(rejected.verdict!.reason);
    expect(audit.internalization).toBeNull();
    if (audit.decision!.reason === 'replay-wrong-answer') expect(audit.validation!.correct).toBe(false);
    const text = (await mel(['audit', rejected.id])).stdout;
    expect(text).toContain(`REJECTED (${audit.decision!.reason})`);
    expect(text).toContain('not internalized (only accepted meta-experiences are)');
  });

  it('report writes an HTML file, a PNG per curve (each a real 640x360 image) and the metrics.jsonl the workers wrote', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'mel-report-'));
    const written = await melJson<WrittenReport & { metrics: string }>(['report', runId, '--out', out]);
    expect(await readFile(written.metrics, 'utf8')).toBe(
      await readFile(path.join(metricsDir, runId, 'metrics.jsonl'), 'utf8'),
    );
    const html = await readFile(written.html, 'utf8');
    expect(html).toContain(`MEL run ${runId}`);
    expect(written.plots.map((p) => path.basename(p.file))).toEqual([
      'reward.png',
      'meta-experiences.png',
      'retention.png',
      'losses.png',
      'durations.png',
    ]);
    for (const plot of written.plots) {
      const png = await readFile(plot.file);
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([640, 360]);
      // A blank 640x360 PNG is under 1 KB; axes, labels and curves make several.
      expect(png.length).toBeGreaterThan(4_000);
      expect(html).toContain(`<img src="${path.basename(plot.file)}"`);
    }
    // One row per step in the metrics table, one per accepted meta-experience in the table after it.
    const acceptedIds = experiences.filter((e) => e.verdict?.accepted).map((e) => e.id);
    const [perStep = '', accepted = ''] = html.split(
      `<h2>Accepted meta-experiences (${acceptedIds.length})</h2>`,
    );
    expect(perStep.match(/<tr><td>/g)).toHaveLength(config.steps);
    expect(accepted.match(/<tr><td>/g)).toHaveLength(acceptedIds.length);
    for (const id of acceptedIds) expect(accepted).toContain(id);
  });

  it('replay of a step, from the policy it started from and with the same seeds, gives identical results', async () => {
    const diff = await melJson<ReplayDiff>(['replay', runId, '--step', '1', '--with-workers']);
    expect(diff.original).toEqual({ runId, step: 1 });
    expect(diff.replay.runId).toMatch(new RegExp(`^${runId}-replay1-`));
    const trajectories = config.batchSize * config.groupSize;
    expect(diff.trajectories).toEqual({
      original: trajectories,
      replay: trajectories,
      same: trajectories,
      differing: [],
    });
    expect(diff.rewards.same).toBe(trajectories);
    for (const kind of ['prompts', 'pairs', 'candidates', 'verdicts'] as const) {
      expect(diff[kind].differing, kind).toEqual([]);
      expect(diff[kind].replay).toBe(diff[kind].original);
    }
    expect(diff.grpoLoss.same && diff.nllLoss.same).toBe(true);
    expect(diff.identical).toBe(true);

    const unfinished = await mel(['replay', runId, '--step', '7']);
    expect(unfinished.code).toBe(1);
    expect(unfinished.stderr).toContain('has not finished');
  });

  it('audit of an unknown id fails with a hint', async () => {
    const missing = await mel(['audit', `${runId}/step-0/p0/pair-s9-s8/me`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('mel experiences <run>');
  });

  it('every command has --help', async () => {
    for (const command of [
      'train',
      'runs',
      'status',
      'pause',
      'resume',
      'stop',
      'experiences',
      'audit',
      'report',
    ]) {
      const help = await mel([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: mel ${command}`);
      if (command !== 'pause' && command !== 'resume' && command !== 'stop')
        expect(help.stdout).toContain('--json');
    }
  });
});
