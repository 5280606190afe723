/**
 * What a run refuses instead of training on it, on the engine double (seconds each): a data set with a bad row
 * (`mel train` refuses it before starting anything, or reports the rows it skips), a data file that changed since
 * the run was started (the activity that reads it names both hashes; the run pauses at its start until the file is
 * restored and the run resumed), and a request the engine refuses as wrong (one attempt, not five).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { builtinProblems } from '../../mel/index.js';
import type { RunDoc } from '../../store/documents.js';
import { COLLECTIONS } from '../../store/mongo.js';
import { followRun, startRun } from '../../temporal/client.js';
import { resumeUpdate, runWorkflowId, statusQuery, type RunStatus } from '../../temporal/contracts/run.js';
import { mel, melOk, writeConfigFile } from './cli-support.js';
import { dataPin, shortRunConfig } from './mel-support.js';
import { useClientAndWorkers, useEngineDouble } from './support.js';

async function problemsFile(...lines: string[]): Promise<string> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'mel-inputs-')), 'problems.jsonl');
  await writeFile(file, lines.join('\n'));
  return file;
}

const builtinLines = (count: number) => builtinProblems({ count }).map((problem) => JSON.stringify(problem));

async function statusWhen(temporal: Client, runId: string, until: (s: RunStatus) => boolean) {
  const handle = temporal.workflow.getHandle(runWorkflowId(runId));
  let status: RunStatus | undefined;
  await expect
    .poll(async () => (status = await handle.query(statusQuery).catch(() => undefined)) && until(status), {
      timeout: 60_000,
      interval: 200,
    })
    .toBe(true);
  return status!;
}

async function resumeAndFinish(temporal: Client, runId: string): Promise<RunStatus> {
  await temporal.workflow.getHandle(runWorkflowId(runId)).executeUpdate(resumeUpdate);
  return followRun(temporal, runId, () => undefined);
}

describe('inputs a run refuses', () => {
  const engine = useEngineDouble();
  const stack = useClientAndWorkers(() => engine.endpoints);

  it('mel train reads the data set first: a bad row refuses the run, skipped rows are reported', async () => {
    const file = await problemsFile(
      ...builtinLines(6),
      JSON.stringify({ id: 'dollar', question: 'How much?', answer: '$' }),
      JSON.stringify({ id: 'no-answer', question: 'What is 2 + 2?' }),
    );
    const base = shortRunConfig({ steps: 1, batchSize: 2 });
    const dataset = { source: file, builtinCount: 300, builtinSeed: 0 };
    const strict = { ...base, dataset };
    const refused = await mel(['train', await writeConfigFile(strict), '--detach']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `cannot use data set ${file}: ${file}:7: field "answer": the verifier cannot score answer "$"`,
    );
    await expect(stack.temporal.workflow.getHandle(runWorkflowId(strict.runId)).describe()).rejects.toThrow(
      /not found/i,
    );

    const lenient = shortRunConfig({
      steps: 1,
      batchSize: 2,
      dataset,
      mel: { ...base.mel, dataset: { ...base.mel.dataset, onBadRow: 'skip' } },
    });
    const trained = await melOk(['train', await writeConfigFile(lenient)]);
    const pin = await dataPin(lenient);
    expect(trained).toContain(
      `data:   ${file} (sha256 ${pin.sha256.slice(0, 12)}), 6 problems; 2 bad rows skipped:\n` +
        `  ${file}:7: field "answer": the verifier cannot score answer "$"`,
    );
    expect(trained).toContain(
      `  ${file}:8: field "answer|ground_truth|reward_model.ground_truth|reward_spec.ground_truth|solution": ` +
        'missing answer (looked for answer, ground_truth, reward_model.ground_truth, reward_spec.ground_truth, ' +
        'solution; the row has id, question;',
    );
    expect(trained).toContain(`run:    ${lenient.runId}: completed`);
    const run = await stack.workers.deps.mongo.db
      .collection<RunDoc>(COLLECTIONS.runs)
      .findOne({ _id: lenient.runId });
    expect(run?.data).toEqual({ source: file, sha256: pin.sha256, problems: 6, skippedRows: 2 });
  });

  it('refuses a data file that changed since the run started, naming both hashes; resumes once restored', async () => {
    const original = builtinLines(20).join('\n');
    const file = await problemsFile(original);
    const config = shortRunConfig({
      steps: 1,
      batchSize: 2,
      dataset: { source: file, builtinCount: 300, builtinSeed: 0 },
    });
    const pin = await dataPin(config);
    const changed = `${original}\n${JSON.stringify({ id: 'late', question: 'What is 1 + 1?', answer: '2' })}`;
    await writeFile(file, changed);

    await startRun(stack.temporal, config, pin);
    const paused = await statusWhen(stack.temporal, config.runId, (s) => s.lastError !== undefined);
    expect(paused).toMatchObject({ phase: 'paused', nextStep: 0, lastError: { step: 0, starting: true } });
    const changedSha = createHash('sha256').update(changed).digest('hex');
    expect(paused.lastError!.message).toContain(
      `data set ${file} changed since run ${config.runId} was started: ` +
        `its SHA-256 was ${pin.sha256}, it is now ${changedSha}`,
    );
    const run = await stack.workers.deps.mongo.db
      .collection<RunDoc>(COLLECTIONS.runs)
      .findOne({ _id: config.runId });
    expect(run?.data).toEqual(pin);

    await writeFile(file, original);
    expect(await resumeAndFinish(stack.temporal, config.runId)).toMatchObject({
      phase: 'completed',
      nextStep: 1,
    });
  });

  it('fails the start at once on a request the engine refuses (422), pausing the run; resume retries it', async () => {
    const response = await fetch(`${engine.double.url}/double/v1/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        rules: [{ route: 'save_weights', call: 1, action: { type: 'http-status', status: 422 } }],
      }),
    });
    expect(response.ok).toBe(true);
    const saves = () => engine.double.stats().requests.save_weights ?? 0;
    const savesBefore = saves();
    const config = shortRunConfig({ steps: 1, batchSize: 2 });

    await startRun(stack.temporal, config, await dataPin(config));
    const paused = await statusWhen(stack.temporal, config.runId, (s) => s.lastError !== undefined);
    expect(paused).toMatchObject({ phase: 'paused', lastError: { step: 0, starting: true } });
    expect(paused.lastError!.message).toContain('/save_weights answered 422');
    expect(paused.lastError!.message).not.toContain('outcome unknown');
    expect(saves() - savesBefore).toBe(1); // refused: no retry, neither by the client nor by Temporal

    expect(await resumeAndFinish(stack.temporal, config.runId)).toMatchObject({ phase: 'completed' });
  });
});
