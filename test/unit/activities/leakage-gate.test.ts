/**
 * The validate activity's leakage gate: a candidate that states the answer is rejected as `states-answer` before its
 * replay, so no replay is sampled (the engine and tokenizer here fail the test if touched). A candidate summarized
 * before answer statements were looked for is checked at this point instead. MongoDB is in memory (in-memory-db.ts).
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createReflectActivities } from '../../../activities/reflect.js';
import { SECTION_TITLES } from '../../../mel/index.js';
import { parseRunConfig } from '../../../mel/run-config.js';
import { VerifierPool } from '../../../mel/verifier-pool.js';
import type { LeakageRecord, MetaExperienceDoc } from '../../../store/documents.js';
import { COLLECTIONS } from '../../../store/mongo.js';
import { inMemoryDb, type Doc } from './in-memory-db.js';

const runId = 'leakage-gate';
const config = parseRunConfig({ runId, steps: 1, batchSize: 1, groupSize: 2 });
const problem = { id: 'p0', question: 'Compute 2/3 + 5/8.', answer: '31/24' };
const promptId = `${runId}/step-0/p0`;
const policy = {
  modelId: 'm',
  statePath: 'tinker://m/state',
  samplerPath: 'tinker://m/sampler',
  updates: 0,
  rank: 8,
};

const pool = new VerifierPool({ threads: 1 });
afterAll(() => pool.close());

const STATES_ANSWER = [
  `## 1. ${SECTION_TITLES.failure}`,
  '**Failure Point:** I added the denominators.',
  `## 2. ${SECTION_TITLES.success}`,
  'The second solution found $\\boxed{\\dfrac{31}{24}}$ by using a common denominator.',
  `## 3. ${SECTION_TITLES.summary}`,
  'I will align denominators first.',
  `## 4. ${SECTION_TITLES.heuristics}`,
  '- If fractions are added, then rewrite them over a common denominator.',
].join('\n');

function candidate(leakage: LeakageRecord): Doc {
  const metaExperience = {
    bifurcationPoint: 'I added the denominators.',
    critique: 'The second solution found it.',
    heuristics: ['If fractions are added, then rewrite them over a common denominator.'],
    reflectiveSummary: 'I will align denominators first.',
    rawText: STATES_ANSWER,
  };
  return {
    _id: `${promptId}/pair-s1-s0/me`,
    runId,
    step: 0,
    promptId,
    generation: { turns: [], seed: 1, samplerPath: 'tinker://m/s' },
    parse: { ok: true, metaExperience },
    leakage,
    origin: {},
  };
}

/** Any use of the engine or the tokenizer means a replay was about to be sampled. */
const untouchable = (name: string) =>
  new Proxy({}, { get: (_target, key) => () => expect.fail(`${name}.${String(key)} was used`) });

async function validate(leakage: LeakageRecord) {
  const contents: Record<string, Doc[]> = {
    [COLLECTIONS.runs]: [{ _id: runId, config, baseModel: 'base', createdAt: new Date(), workflowId: runId }],
    [COLLECTIONS.prompts]: [{ _id: promptId, runId, step: 0, promptIndex: 0, problem }],
    [COLLECTIONS.metaExperiences]: [candidate(leakage)],
  };
  const deps = {
    db: inMemoryDb(contents),
    engine: untouchable('engine'),
    tokenizer: untouchable('tokenizer'),
    compareSymbolically: pool.compare,
    baseModel: 'base',
  };
  const activities = createReflectActivities(
    deps as unknown as Parameters<typeof createReflectActivities>[0],
  );
  const summary = await new MockActivityEnvironment().run(activities.validate, { runId, step: 0, policy });
  const [judged] = contents[COLLECTIONS.metaExperiences] as unknown as MetaExperienceDoc[];
  return { summary, judged: judged! };
}

describe('validate: the leakage gate', () => {
  it('rejects a candidate found to state the answer as states-answer, without a replay', async () => {
    const { summary, judged } = await validate({
      leaked: true,
      offendingTokens: [],
      answerStatements: ['\\dfrac{31}{24}'],
      answerSpans: { compared: 3, undecided: 0, capReached: false },
      rejected: true,
    });
    expect(summary).toEqual({ accepted: 0, rejected: 1 });
    expect(judged.verdict).toEqual({
      accepted: false,
      reason: 'states-answer',
      detail: 'states the answer 31/24 as \\dfrac{31}{24}; not replayed',
    });
    expect(judged.validation).toBeUndefined();
  });

  it('checks a candidate summarized before answer statements were looked for, before its replay', async () => {
    const { summary, judged } = await validate({ leaked: false, offendingTokens: [], rejected: false });
    expect(summary).toEqual({ accepted: 0, rejected: 1 });
    expect(judged.verdict).toMatchObject({ accepted: false, reason: 'states-answer' });
    expect(judged.leakage).toMatchObject({ answerStatements: ['\\dfrac{31}{24}'], rejected: true });
    expect(judged.validation).toBeUndefined();
  });
});
