/**
 * One bad item does not fail the step (docs/mel.md, "Bad items"). The engine double's fault hooks make one prompt,
 * sample, reflection or replay unusable; each run must complete its step, record the item with its reason, and
 * train on the rest. An engine that fails every item must still fail the stage.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FaultRule } from '../../engine-double/faults.js';
import { computeAdvantages, generateBuiltinDataset } from '../../mel/index.js';
import type { RunConfig } from '../../mel/run-config.js';
import type { ExclusionDoc } from '../../store/documents.js';
import { melCollections } from '../../store/collections.js';
import { currentProgress, followRun, startRun } from '../../temporal/client.js';
import { runWorkflowId } from '../../temporal/contracts/run.js';
import { expectConsistentVerdict, shortRunConfig } from './mel-support.js';
import { useClientAndWorkers, useEngineDouble } from './support.js';
import { decodeTokens } from '../../store/token-codec.js';

const BATCH = 4;
const GROUP = 4;
const CONTEXT = 2048;

describe('one bad item does not fail the step', () => {
  const engine = useEngineDouble({
    seed: 3,
    pCorrect: 0.5,
    pUnparseable: 0,
    pTruncated: 0,
    pReplayCorrect: 0.5,
    maxContextTokens: CONTEXT,
  });
  const stack = useClientAndWorkers(() => engine.endpoints);
  const db = () => melCollections(stack.workers.deps.mongo.db);
  const unterminated: string[] = [];

  afterAll(async () => {
    for (const runId of unterminated) {
      await stack.temporal.workflow
        .getHandle(runWorkflowId(runId))
        .terminate('test over')
        .catch(() => undefined);
    }
  });

  /** Installs fault rules on the double, counted from now; the run's B rollout samples are asample calls 1…B. */
  async function injectFaults(rules: FaultRule[]) {
    const response = await fetch(`${engine.double.url}/double/v1/faults`, {
      method: 'POST',
      body: JSON.stringify({ rules, replace: true }),
    });
    expect(response.ok).toBe(true);
  }

  /**
   * Trains one step of `config` with `rules` in place; it must complete (a step that fails its retries pauses the
   * run, which fails the test at once). Returns what the step stored.
   */
  async function trainOneStep(rules: FaultRule[], overrides: Partial<RunConfig> = {}) {
    const config = shortRunConfig({ steps: 1, batchSize: BATCH, groupSize: GROUP, ...overrides });
    await injectFaults(rules);
    unterminated.push(config.runId);
    await startRun(stack.temporal, config);
    const status = await followRun(stack.temporal, config.runId, ({ status }) => {
      if (status.lastError) throw new Error(`the run paused: ${status.lastError.message}`);
    });
    await injectFaults([]);
    expect(status.phase).toBe('completed');
    expect(status.policy!.updates).toBe(1);
    return { config, ...(await stepDocuments(config.runId)) };
  }

  async function stepDocuments(runId: string) {
    const scope = { runId, step: 0 };
    const collections = db();
    const [trajectories, rewards, exclusions, datums, candidates, metrics] = await Promise.all([
      collections.trajectories.find(scope).toArray(),
      collections.rewards.find(scope).toArray(),
      collections.exclusions.find(scope).sort({ _id: 1 }).toArray(),
      collections.datums.find(scope).toArray(),
      collections.metaExperiences.find(scope).toArray(),
      collections.stepMetrics.findOne(scope),
    ]);
    const grpoSources = datums.filter((d) => d.kind === 'grpo').map((d) => d.sourceId);
    const perPrompt = (promptId: string) => trajectories.filter((t) => t.promptId === promptId);
    return {
      trajectories,
      rewards,
      exclusions,
      datums,
      grpoSources,
      candidates,
      metrics: metrics!,
      perPrompt,
    };
  }

  const reasons = (exclusions: ExclusionDoc[]) => exclusions.map((e) => [e.sampleIndex, e.reason]);

  it('logprobs: null for one prompt: its samples are excluded, the other prompts are trained on; a passing 503 is no item’s fault', async () => {
    const step = await trainOneStep([
      { route: 'asample', call: 2, action: { type: 'logprobs-null' } },
      // Retried (by the engine client, else by Temporal): it excludes nothing.
      { route: 'asample', call: 3, action: { type: 'http-status', status: 503 } },
    ]);
    const [first] = step.exclusions;
    const bad = first!.promptId;
    expect(reasons(step.exclusions)).toEqual([0, 1, 2, 3].map((i) => [i, 'missing-logprobs']));
    expect(step.exclusions.every((e) => e.promptId === bad && e._id === `${bad}/s${e.sampleIndex}`)).toBe(
      true,
    );
    expect(first!.detail).toMatch(/^0 logprobs for \d+ tokens$/);
    expect(step.perPrompt(bad)).toHaveLength(0);
    expect(step.trajectories).toHaveLength((BATCH - 1) * GROUP);
    expect(step.grpoSources.length).toBeGreaterThan(0);
    expect(step.grpoSources.some((id) => id.startsWith(`${bad}/`))).toBe(false);
    expect(step.metrics).toMatchObject({ excludedPrompts: 0, excludedSamples: GROUP, trajectories: 12 });
  });

  it('fewer and more samples than G: the missing index is excluded and the advantages are over the rest; the extra one is dropped', async () => {
    const step = await trainOneStep([
      { route: 'asample', call: 1, action: { type: 'wrong-sample-count' } },
      { route: 'asample', call: 2, action: { type: 'extra-sample' } },
    ]);
    expect(reasons(step.exclusions).sort()).toEqual([
      [3, 'missing-sample'],
      [4, 'surplus-sample'],
    ]);
    const short = step.exclusions.find((e) => e.reason === 'missing-sample')!.promptId;
    const long = step.exclusions.find((e) => e.reason === 'surplus-sample')!.promptId;
    expect(step.perPrompt(short).map((t) => t.sampleIndex)).toEqual([0, 1, 2]);
    expect(step.perPrompt(long)).toHaveLength(GROUP);
    expect(step.trajectories).toHaveLength(BATCH * GROUP - 1);

    // The short group's advantages are those of its three remaining rewards.
    const shortRewards = step.rewards
      .filter((r) => r.promptId === short)
      .sort((a, b) => a.sampleIndex - b.sampleIndex);
    const [expected] = computeAdvantages([shortRewards.map((r) => r.reward)], step.config.mel.advantage);
    for (const datum of step.datums.filter((d) => d.kind === 'grpo' && d.sourceId.startsWith(`${short}/`))) {
      const index = Number(datum.sourceId.split('/s').at(-1));
      expect(datum.advantage).toBeCloseTo(expected![index]!, 12);
    }
    expect(step.metrics).toMatchObject({ excludedPrompts: 0, excludedSamples: 2 });
  });

  it('an empty sample is excluded; garbage text is scored as a wrong answer, not excluded', async () => {
    const step = await trainOneStep([
      { route: 'asample', call: 1, action: { type: 'empty-sample' } },
      { route: 'asample', call: 2, action: { type: 'garbage-sample' } },
    ]);
    expect(reasons(step.exclusions)).toEqual([[0, 'empty-sample']]);
    expect(step.trajectories).toHaveLength(BATCH * GROUP - 1);
    // The double's garbage is byte tokens (ids 3…258); the model's own text always has longer tokens.
    const garbage = step.trajectories.filter((t) => decodeTokens(t.tokens, t._id).every((id) => id < 259));
    expect(garbage).toHaveLength(GROUP);
    const garbageRewards = step.rewards.filter((r) => r.promptId === garbage[0]!.promptId);
    expect(garbageRewards.map((r) => r.reward)).toEqual([0, 0, 0, 0]);
  });

  it('a prompt longer than the engine context: the prompt is excluded with the engine’s words, the others are trained on', async () => {
    const file = path.join(tmpdir(), `mel-isolation-${process.pid}.jsonl`);
    const problems = generateBuiltinDataset({ seed: 0, count: BATCH - 1 }).map(
      ({ id, question, answer }) => ({
        id,
        question,
        answer,
      }),
    );
    const long = { id: 'too-long', question: `${'Add one to it. '.repeat(700)}What is 1 + 1?`, answer: '2' };
    writeFileSync(file, [...problems, long].map((p) => JSON.stringify(p)).join('\n'));
    const step = await trainOneStep([], { dataset: { source: file, builtinCount: 60, builtinSeed: 0 } });

    expect(reasons(step.exclusions)).toEqual([[undefined, 'engine-rejected']]);
    const [rejected] = step.exclusions;
    const prompt = await db().prompts.findOne({ _id: rejected!._id });
    expect(prompt!.problem.id).toBe('too-long');
    expect(decodeTokens(prompt!.promptTokens, 'promptTokens').length).toBeGreaterThan(CONTEXT);
    expect(rejected!.detail).toMatch(
      /maximum context length is 2048 tokens\. However, your request has \d+ input tokens/,
    );
    expect(step.perPrompt(rejected!._id)).toHaveLength(0);
    expect(step.trajectories).toHaveLength((BATCH - 1) * GROUP);
    expect(step.metrics).toMatchObject({ excludedPrompts: 1, excludedSamples: 0 });
  });

  it('a reflection the engine returns empty rejects that candidate with a reason; the others are judged', async () => {
    // Calls 1…B are the rollouts; call B + 1 is the first reflection.
    const step = await trainOneStep([
      { route: 'asample', call: BATCH + 1, action: { type: 'empty-sample' } },
    ]);
    expect(step.exclusions).toEqual([]);
    const failed = step.candidates.filter((c) => c.verdict!.reason === 'sampling-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.verdict!.detail).toBe('reflection: empty-sample: the engine returned no tokens');
    expect(failed[0]!.generation.failure).toMatchObject({ reason: 'empty-sample' });
    expect(step.candidates.length).toBeGreaterThan(1);
    for (const candidate of step.candidates) expectConsistentVerdict(candidate);
  });

  it('reflections that do not fit the engine context reject their candidates with a reason; GRPO still trains', async () => {
    const sampling = shortRunConfig().sampling;
    const step = await trainOneStep([], {
      sampling: { ...sampling, reflection: { ...sampling.reflection, maxTokens: CONTEXT } },
    });
    expect(step.candidates.length).toBeGreaterThan(0);
    for (const candidate of step.candidates) {
      expect(candidate.generation.turns).toEqual([]);
      expect(candidate.verdict).toMatchObject({ accepted: false, reason: 'sampling-failed' });
      expect(candidate.verdict!.detail).toMatch(/^reflection: engine-rejected: .*maximum context length/);
    }
    expect(step.datums.filter((d) => d.kind === 'nll')).toHaveLength(0);
    expect(step.grpoSources.length).toBeGreaterThan(0);
  });

  it('replays that do not fit the engine context reject their candidates with a reason; GRPO still trains', async () => {
    const sampling = shortRunConfig().sampling;
    const step = await trainOneStep([], {
      sampling: { ...sampling, validation: { ...sampling.validation, maxTokens: CONTEXT } },
    });
    expect(step.candidates.length).toBeGreaterThan(0);
    for (const candidate of step.candidates) {
      expect(candidate.verdict).toMatchObject({ accepted: false, reason: 'sampling-failed' });
      expect(candidate.verdict!.detail).toMatch(
        /^replay: engine-rejected: .*'max_tokens' or 'max_completion_tokens' is too large/,
      );
    }
    expect(step.datums.filter((d) => d.kind === 'nll')).toHaveLength(0);
    expect(step.grpoSources.length).toBeGreaterThan(0);
  });

  it('an engine that fails every item is not an item’s fault: the stage fails and the run pauses with the reason', async () => {
    const config = shortRunConfig({ steps: 1, batchSize: BATCH, groupSize: GROUP });
    await injectFaults([{ route: 'asample', action: { type: 'logprobs-null' } }]);
    unterminated.push(config.runId);
    await startRun(stack.temporal, config);
    await expect
      .poll(async () => (await currentProgress(stack.temporal, config.runId)).status.lastError, {
        timeout: 120_000,
        interval: 500,
      })
      .toMatchObject({
        step: 0,
        message: expect.stringContaining('no rollout of step 0 is usable (missing-logprobs ×16)'),
      });
    await injectFaults([]);
  });
});
