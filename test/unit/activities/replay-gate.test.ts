/**
 * What is replayed, and how a candidate is judged on its replays (docs/mel.md, items 11 and 13): the gate
 * (`mel.metaExperience.gate`, strict or replay-only) on unparseable, truncated, empty and answer-stating reflections,
 * k replays with their own seeds and the acceptance rule (`mel.validation`), write-once verdicts under a retry, and
 * the NLL datum of an accepted unparsed candidate. The engine is a stub that answers by seed and records every
 * request; the tokenizer maps characters to code points; MongoDB is in memory (in-memory-db.ts).
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { Binary, BSON } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { createInternalizeActivities } from '../../../activities/internalize.js';
import { createReflectActivities } from '../../../activities/reflect.js';
import type { ReflectionEngine, SampleRequest, SampledSequence } from '../../../engine/engine.js';
import { SECTION_TITLES } from '../../../mel/index.js';
import { parseRunConfig } from '../../../mel/run-config.js';
import { samplingSeed } from '../../../mel/schedule.js';
import { VerifierPool } from '../../../mel/verifier-pool.js';
import { datumOf } from '../../../store/datum-codec.js';
import {
  replaysOf,
  type DatumDoc,
  type GenerationTurn,
  type MetaExperienceDoc,
  type SampledTurn,
} from '../../../store/documents.js';
import { COLLECTIONS } from '../../../store/mongo.js';
import { inMemoryDb, type Doc } from './in-memory-db.js';
import { decodeTokens, encodeLogprobs, encodeTokens, turnTokens } from '../../../store/token-codec.js';

const runId = 'replay-gate';
const problem = { id: 'p0', question: 'Compute 2/3 + 5/8.', answer: '31/24' };
const promptId = `${runId}/step-0/p0`;
const pairId = `${promptId}/pair-s1-s0`;
const candidateId = `${pairId}/me`;
const policy = {
  modelId: 'm',
  statePath: 'tinker://m/state',
  samplerPath: 'tinker://m/sampler',
  updates: 0,
  rank: 8,
};
const EOS = 0;

const pool = new VerifierPool({ threads: 1 });
afterAll(() => pool.close());

const tokenizer = {
  encode: (text: string) => [...text].map((c) => c.codePointAt(0)!),
  decode: (ids: readonly number[]) => String.fromCodePoint(...ids),
  eosTokenId: EOS,
};

const PARSEABLE = [
  `## 1. ${SECTION_TITLES.failure}`,
  '**Failure Point:** I added the denominators.',
  `## 2. ${SECTION_TITLES.success}`,
  'The second solution used a common denominator.',
  `## 3. ${SECTION_TITLES.summary}`,
  'I will align denominators first.',
  `## 4. ${SECTION_TITLES.heuristics}`,
  '- If fractions are added, then rewrite them over a common denominator.',
].join('\n');
const STATES_ANSWER = `${PARSEABLE}\nSo the sum is $\\boxed{\\frac{31}{24}}$.`;
/** No section headings: the parser rejects it (missing-sections). */
const UNSTRUCTURED =
  'I added the denominators instead of finding a common one; always use a common denominator.';
/** Cut by the token limit in the middle of section 2. */
const TRUNCATED = `## 1. ${SECTION_TITLES.failure}\n**Failure Point:** I added the denominators.\n## 2. ${SECTION_TITLES.success}\nThe second solution used a`;

const RIGHT = 'Over 24: 16/24 + 15/24. The answer is \\boxed{31/24}.';
/** A trajectory's stored tokens and logprobs (store/token-codec.ts). */
const sampled = { tokens: encodeTokens([4, 5]), logprobs: encodeLogprobs([-1, -2]) };
const wrong = (answer: string) => `The answer is \\boxed{${answer}}.`;

type Gate = 'strict' | 'replay-only';
interface Setup {
  gate?: Gate;
  replays?: number;
  minCorrect?: number;
  mode?: 'single-call' | 'chained';
}

function runConfig({ gate = 'strict', replays = 1, minCorrect, mode = 'single-call' }: Setup) {
  return parseRunConfig({
    runId,
    steps: 1,
    batchSize: 1,
    groupSize: 2,
    mel: { metaExperience: { gate, mode }, validation: { replays, minCorrect } },
  });
}

/** The seed of replay i as validate derives it: replay 0's is the one a single replay always had. */
const replaySeed = (i: number) =>
  samplingSeed(0, 0, 'validate', `step-0/p0/pair-s1-s0/me${i === 0 ? '' : `/replay-${i}`}`);
const reflectionSeed = samplingSeed(0, 0, 'summarize', 'step-0/p0/pair-s1-s0');

function turn(text: string, stopReason: 'stop' | 'length', promptTokens = [7, 8, 9]): SampledTurn {
  const outputTokens = [...tokenizer.encode(text), ...(stopReason === 'stop' ? [EOS] : [])];
  return { promptTokens, outputTokens, text, stopReason };
}

function candidate(
  turns: GenerationTurn[],
  parse: MetaExperienceDoc['parse'],
  extra: Partial<MetaExperienceDoc> = {},
) {
  return {
    _id: candidateId,
    runId,
    step: 0,
    promptId,
    pairId,
    problemId: problem.id,
    mode: 'single-call',
    generation: { turns, seed: 1, samplerPath: 'tinker://m/s' },
    parse,
    origin: {},
    ...extra,
  } as unknown as Doc;
}

const parsed = (rawText: string): MetaExperienceDoc['parse'] => ({
  ok: true,
  metaExperience: {
    bifurcationPoint: 'I added the denominators.',
    critique: 'c',
    heuristics: ['If fractions are added, then rewrite them over a common denominator.'],
    reflectiveSummary: 'I will align denominators first.',
    rawText,
  },
});

/** An engine that answers each seed with its scripted text, and records every request. */
function scriptedEngine(
  script: Map<number, string | { text: string; stopReason: 'stop' | 'length' } | null>,
) {
  const requests: SampleRequest[] = [];
  const sample = async (request: SampleRequest): Promise<SampledSequence[]> => {
    requests.push(request);
    const answer = script.get(request.seed!);
    if (answer === undefined) expect.fail(`no answer scripted for seed ${request.seed}`);
    if (answer === null) return [{ tokens: [], logprobs: [], stopReason: 'stop' }];
    const { text, stopReason } =
      typeof answer === 'string' ? { text: answer, stopReason: 'stop' as const } : answer;
    const tokens = [...tokenizer.encode(text), ...(stopReason === 'stop' ? [EOS] : [])];
    return [{ tokens, logprobs: tokens.map(() => -1), stopReason }];
  };
  return { engine: { sample }, requests };
}

function world(
  setup: Setup,
  metaExperience: Doc | undefined,
  script: Parameters<typeof scriptedEngine>[0],
  reflection?: ReflectionEngine,
) {
  const config = runConfig(setup);
  const contents: Record<string, Doc[]> = {
    [COLLECTIONS.runs]: [{ _id: runId, config, baseModel: 'base', createdAt: new Date(), workflowId: runId }],
    [COLLECTIONS.prompts]: [
      { _id: promptId, runId, step: 0, promptIndex: 0, problem, promptTokens: [1, 2, 3] },
    ],
    [COLLECTIONS.pairs]: [
      {
        _id: pairId,
        runId,
        step: 0,
        promptId,
        problemId: problem.id,
        positiveTrajectoryId: `${promptId}/s1`,
        negativeTrajectoryId: `${promptId}/s0`,
      },
    ],
    [COLLECTIONS.trajectories]: [
      { _id: `${promptId}/s0`, runId, step: 0, promptId, ...sampled, text: 'The answer is \\boxed{7/11}.' },
      { _id: `${promptId}/s1`, runId, step: 0, promptId, ...sampled, text: RIGHT },
    ],
    [COLLECTIONS.metaExperiences]: metaExperience ? [metaExperience] : [],
  };
  const { engine, requests } = scriptedEngine(script);
  const deps = {
    db: inMemoryDb(contents),
    engine,
    tokenizer,
    compareSymbolically: pool.compare,
    baseModel: 'base',
    ...(reflection ? { reflection } : {}),
  } as unknown as Parameters<typeof createReflectActivities>[0];
  const reflect = createReflectActivities(deps);
  const environment = new MockActivityEnvironment();
  const ref = { runId, step: 0, policy };
  return {
    requests,
    contents,
    judged: () => contents[COLLECTIONS.metaExperiences]![0] as unknown as MetaExperienceDoc,
    summarize: () => environment.run(reflect.summarize, ref),
    validate: () => environment.run(reflect.validate, ref),
    internalize: async () => {
      await environment.run(createInternalizeActivities(deps).internalize, { runId, step: 0 });
      return contents[COLLECTIONS.datums] as unknown as DatumDoc[];
    },
  };
}

/** A copy of a document as the store keeps it (its binary token arrays stay binary). */
function stored<T extends object>(doc: T): T {
  return BSON.deserialize(BSON.serialize(doc)) as T;
}

/** The first turn's output tokens of a candidate summarize stored: binary, through the token codec. */
function storedOutput(doc: MetaExperienceDoc): number[] {
  const [first] = doc.generation.turns;
  expect(first!.outputTokens).toBeInstanceOf(Binary);
  return turnTokens(first!, 'turn 0').outputTokens;
}

const replayPrompts = (requests: SampleRequest[]) =>
  requests.map((request) => tokenizer.decode(request.promptTokens));

describe('the gate before replay', () => {
  it('strict: an unparseable candidate is rejected before replay, with its parse reason', async () => {
    const w = world(
      { gate: 'strict' },
      candidate([turn(UNSTRUCTURED, 'stop')], notParsed('missing-sections')),
      new Map(),
    );
    expect(await w.validate()).toEqual({ accepted: 0, rejected: 1 });
    expect(w.requests).toEqual([]);
    expect(w.judged().verdict).toEqual({
      accepted: false,
      reason: 'unparseable',
      detail: 'missing-sections',
    });
    expect(w.judged().validation).toBeUndefined();
  });

  it('strict: a truncated candidate is rejected before replay', async () => {
    const w = world(
      { gate: 'strict' },
      candidate([turn(TRUNCATED, 'length')], notParsed('truncated')),
      new Map(),
    );
    await w.validate();
    expect(w.requests).toEqual([]);
    expect(w.judged().verdict).toEqual({ accepted: false, reason: 'unparseable', detail: 'truncated' });
  });

  it('replay-only: an unparseable candidate is replayed with its raw text, checked for leakage on it, and recorded', async () => {
    const w = world(
      { gate: 'replay-only' },
      candidate(
        [turn(UNSTRUCTURED, 'stop')],
        notParsed('missing-sections: failure, success, summary, heuristics'),
      ),
      new Map([[replaySeed(0), RIGHT]]),
    );
    expect(await w.validate()).toEqual({ accepted: 1, rejected: 0 });
    expect(w.requests.map((r) => r.seed)).toEqual([replaySeed(0)]);
    const [prompt] = replayPrompts(w.requests);
    expect(prompt).toContain(
      `supplied internal reference information for the question below. It covers the key approaches, steps and reasoning needed for a correct solution; typical reasoning biases, logical flaws and pitfalls seen in incorrect solutions; and heuristic insights on how to solve it more effectively.\n\n${UNSTRUCTURED}\n\nNow fully internalise`,
    );
    const judged = w.judged();
    expect(judged.parse).toEqual({
      ok: false,
      reason: 'missing-sections: failure, success, summary, heuristics',
    });
    expect(judged.leakage).toMatchObject({ answerStatements: [], rejected: false });
    expect(judged.validation).toMatchObject({
      promptText: prompt,
      seed: replaySeed(0),
      correct: true,
      text: RIGHT,
    });
    expect(judged.laterReplays).toBeUndefined();
    expect(judged.verdict).toEqual({
      accepted: true,
      reason: 'replay-verified',
      detail:
        'replay answered 31/24, which matches 31/24; replayed unparsed (missing-sections: failure, success, summary, heuristics)',
    });
  });

  it('replay-only: a truncated candidate is replayed with the text it has', async () => {
    const w = world(
      { gate: 'replay-only' },
      candidate([turn(TRUNCATED, 'length')], notParsed('truncated')),
      new Map([[replaySeed(0), wrong('7')]]),
    );
    expect(await w.validate()).toEqual({ accepted: 0, rejected: 1 });
    expect(replayPrompts(w.requests)[0]).toContain(`\n\n${TRUNCATED}\n\nNow fully internalise`);
    expect(w.judged().verdict).toEqual({
      accepted: false,
      reason: 'replay-wrong-answer',
      detail: 'replay answered 7, expected 31/24; replayed unparsed (truncated)',
    });
  });

  for (const gate of ['strict', 'replay-only'] as const) {
    it(`${gate}: an empty reflection is rejected before replay`, async () => {
      const w = world({ gate }, candidate([turn('  \n', 'stop')], notParsed('empty-output')), new Map());
      await w.validate();
      expect(w.requests).toEqual([]);
      expect(w.judged().verdict).toEqual({ accepted: false, reason: 'unparseable', detail: 'empty-output' });
    });

    it(`${gate}: a reflection that states the answer is rejected as states-answer before replay`, async () => {
      const w = world({ gate }, candidate([turn(STATES_ANSWER, 'stop')], parsed(STATES_ANSWER)), new Map());
      await w.validate();
      expect(w.requests).toEqual([]);
      expect(w.judged().verdict).toMatchObject({ accepted: false, reason: 'states-answer' });
      expect(w.judged().validation).toBeUndefined();
    });
  }

  it('replay-only: an unparsed reflection that states the answer is rejected as states-answer before replay', async () => {
    const text = `${TRUNCATED} common denominator, giving \\boxed{31/24`;
    const w = world(
      { gate: 'replay-only' },
      candidate([turn(`${text}}`, 'stop')], notParsed('missing-sections')),
      new Map(),
    );
    await w.validate();
    expect(w.requests).toEqual([]);
    expect(w.judged().verdict).toMatchObject({ accepted: false, reason: 'states-answer' });
    expect(w.judged().leakage).toMatchObject({ answerStatements: ['31/24'], rejected: true });
  });

  it('summarize checks an unparsed reflection for leakage under replay-only only; the parse is recorded in both', async () => {
    const reflection = { text: `${TRUNCATED} \\boxed{31/24} and`, stopReason: 'length' as const };
    for (const gate of ['strict', 'replay-only'] as const) {
      const w = world({ gate }, undefined, new Map([[reflectionSeed, reflection]]));
      expect(await w.summarize()).toMatchObject({
        candidates: 1,
        parsed: 0,
        leaking: gate === 'strict' ? 0 : 1,
      });
      const stored = w.judged();
      expect(stored.parse).toEqual({ ok: false, reason: 'truncated' });
      expect(storedOutput(stored)).toEqual(tokenizer.encode(reflection.text));
      if (gate === 'strict') expect(stored.leakage).toBeUndefined();
      else expect(stored.leakage).toMatchObject({ answerStatements: ['31/24'], rejected: true });
      await w.validate();
      expect(w.judged().verdict!.reason).toBe(gate === 'strict' ? 'unparseable' : 'states-answer');
      expect(w.requests).toHaveLength(1);
    }
  });

  it('an external reflector’s reply cut by the token limit gets no end-of-turn token, as a sampled one', async () => {
    for (const stopReason of ['length', 'stop'] as const) {
      const reflector = { name: 'big model', chat: async () => [{ text: TRUNCATED, stopReason }] };
      const w = world(
        { gate: 'replay-only' },
        undefined,
        new Map(),
        reflector as unknown as ReflectionEngine,
      );
      await w.summarize();
      const eos = stopReason === 'stop' ? [EOS] : [];
      expect(storedOutput(w.judged())).toEqual([...tokenizer.encode(TRUNCATED), ...eos]);
    }
  });

  it('an accepted unparsed candidate is internalized on its sampled reflection tokens, as a parsed one is', async () => {
    const reflection = turn(TRUNCATED, 'length', [11, 12, 13, 14]);
    const w = world(
      { gate: 'replay-only' },
      candidate([reflection], notParsed('truncated')),
      new Map([[replaySeed(0), RIGHT]]),
    );
    await w.validate();
    expect(w.judged().verdict!.accepted).toBe(true);
    const [stored] = (await w.internalize()).filter((d) => d.kind === 'nll');
    expect(stored!.datum.loss_fn_inputs.target_tokens.data).toBeInstanceOf(Binary);
    const datum = datumOf(stored!);
    const { target_tokens, weights } = datum.loss_fn_inputs;
    const trained = target_tokens.data.filter((_, i) => weights!.data[i]! > 0);
    expect(trained).toEqual(reflection.outputTokens);
    expect(datum.model_input.chunks.flatMap((c) => c.tokens).slice(0, 4)).toEqual([11, 12, 13, 14]);
  });

  it('chained, replay-only: a chain cut in its second turn is replayed with both turns and internalized on both', async () => {
    const first = turn('The failure point: I added the denominators.', 'stop', [5, 6]);
    const second = turn('## 1. Analysis of the fail', 'length', [
      ...first.promptTokens,
      ...first.outputTokens,
      9,
    ]);
    const w = world(
      { gate: 'replay-only', mode: 'chained' },
      { ...candidate([first, second], notParsed('truncated')), mode: 'chained' },
      new Map([[replaySeed(0), RIGHT]]),
    );
    await w.validate();
    expect(replayPrompts(w.requests)[0]).toContain(
      `\n\n${first.text}\n\n${second.text}\n\nNow fully internalise`,
    );
    const [stored] = (await w.internalize()).filter((d) => d.kind === 'nll');
    const { target_tokens, weights } = datumOf(stored!).loss_fn_inputs;
    expect(target_tokens.data.filter((_, i) => weights!.data[i]! > 0)).toEqual([
      ...first.outputTokens,
      ...second.outputTokens,
    ]);
  });
});

describe('k replays and the acceptance rule', () => {
  const parsedCandidate = () => candidate([turn(PARSEABLE, 'stop')], parsed(PARSEABLE));

  it('k = 3, m = 2: accepted when 2 of 3 verify; each replay has its own seed, replay 0 the old one', async () => {
    const w = world(
      { replays: 3, minCorrect: 2 },
      parsedCandidate(),
      new Map([
        [replaySeed(0), RIGHT],
        [replaySeed(1), wrong('7')],
        [replaySeed(2), RIGHT],
      ]),
    );
    expect(await w.validate()).toEqual({ accepted: 1, rejected: 0 });
    const seeds = w.requests.map((r) => r.seed);
    expect(seeds).toEqual([replaySeed(0), replaySeed(1), replaySeed(2)]);
    expect(new Set(seeds).size).toBe(3);
    // The seed a single replay has always had.
    expect(seeds[0]).toBe(samplingSeed(0, 0, 'validate', 'step-0/p0/pair-s1-s0/me'));
    const judged = w.judged();
    expect(judged.validation).toMatchObject({ seed: replaySeed(0), correct: true });
    expect(judged.laterReplays!.map((r) => [r.seed, r.correct, r.extractedAnswer])).toEqual([
      [replaySeed(1), false, '7'],
      [replaySeed(2), true, '31/24'],
    ]);
    // Each replay's sampled tokens are stored binary, through the token codec.
    expect(replaysOf(judged).map((r, i) => decodeTokens(r.tokens, `replay ${i}`))).toEqual(
      [RIGHT, wrong('7'), RIGHT].map((text) => [...tokenizer.encode(text), EOS]),
    );
    expect(judged.validation!.tokens).toBeInstanceOf(Binary);
    expect(judged.verdict).toEqual({
      accepted: true,
      reason: 'replay-verified',
      detail: '2 of 3 replays answered 31/24, 2 needed; the other answered 7',
    });
  });

  it('k = 3, m = 2: rejected when 1 of 3 verifies', async () => {
    const w = world(
      { replays: 3, minCorrect: 2 },
      parsedCandidate(),
      new Map([
        [replaySeed(0), wrong('7')],
        [replaySeed(1), RIGHT],
        [replaySeed(2), 'no idea'],
      ]),
    );
    expect(await w.validate()).toEqual({ accepted: 0, rejected: 1 });
    expect(w.judged().verdict).toEqual({
      accepted: false,
      reason: 'replay-wrong-answer',
      detail: '1 of 3 replays answered 31/24, 2 needed; the others answered 7, (no answer found)',
    });
  });

  it('k = 3 by default needs all 3', async () => {
    const w = world(
      { replays: 3 },
      parsedCandidate(),
      new Map([
        [replaySeed(0), RIGHT],
        [replaySeed(1), RIGHT],
        [replaySeed(2), wrong('7')],
      ]),
    );
    expect(await w.validate()).toEqual({ accepted: 0, rejected: 1 });
    expect(w.judged().verdict!.detail).toBe('2 of 3 replays answered 31/24, 3 needed; the other answered 7');
  });

  it('a retried validate samples nothing again: the verdict and its replays are written once', async () => {
    const w = world(
      { replays: 3, minCorrect: 2 },
      parsedCandidate(),
      new Map([
        [replaySeed(0), RIGHT],
        [replaySeed(1), RIGHT],
        [replaySeed(2), wrong('7')],
      ]),
    );
    await w.validate();
    const first = stored(w.judged());
    expect(await w.validate()).toEqual({ accepted: 1, rejected: 0 });
    expect(w.requests).toHaveLength(3);
    expect(w.judged()).toEqual(first);
  });

  it('a stale attempt that judged later changes nothing: the first verdict stands with its replays', async () => {
    const script = new Map([
      [replaySeed(0), RIGHT],
      [replaySeed(1), RIGHT],
      [replaySeed(2), RIGHT],
    ]);
    const w = world({ replays: 3, minCorrect: 2 }, parsedCandidate(), script);
    await w.validate();
    const first = stored(w.judged());
    // The same candidate judged by an attempt that had not seen the verdict, on other replays.
    const stale = world(
      { replays: 3, minCorrect: 2 },
      parsedCandidate(),
      new Map([...script].map(([s]) => [s, wrong('7')])),
    );
    stale.contents[COLLECTIONS.writeOnce]!.push(...w.contents[COLLECTIONS.writeOnce]!);
    await stale.validate();
    expect(stale.judged().verdict).toEqual(first.verdict);
    expect(stale.judged().laterReplays).toEqual(first.laterReplays);
  });

  it('a replay the engine cannot give rejects the candidate as sampling-failed, with the replays before it', async () => {
    const w = world(
      { replays: 3, minCorrect: 2 },
      parsedCandidate(),
      new Map([
        [replaySeed(0), RIGHT],
        [replaySeed(1), null],
      ]),
    );
    expect(await w.validate()).toEqual({ accepted: 0, rejected: 1 });
    expect(w.requests).toHaveLength(2);
    expect(w.judged().verdict).toEqual({
      accepted: false,
      reason: 'sampling-failed',
      detail: 'replay 2 of 3: empty-sample: the engine returned no tokens',
    });
    expect(w.judged().validation).toMatchObject({ correct: true });
    expect(w.judged().laterReplays).toBeUndefined();
  });
});

function notParsed(reason: string): MetaExperienceDoc['parse'] {
  return { ok: false, reason };
}
