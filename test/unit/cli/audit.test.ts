import { describe, expect, it } from 'vitest';
import { STAGES } from '../../../temporal/contracts/run.js';
import { markBifurcation, MARK_END, MARK_POINT, MARK_START, renderAudit } from '../../../cli/audit-view.js';
import { assembleAudit, locateBifurcation, quotedSpans, type AuditEvidence } from '../../../store/audit.js';
import { historyUrl } from '../../../temporal/ui.js';
import type { MetaExperienceDoc, TemporalOrigin } from '../../../store/documents.js';

const origin = (activityType: string, workflowId = 'run-1/step-0'): TemporalOrigin => ({
  workflowId,
  workflowRunId: `wf-run-${activityType}`,
  activityId: '3',
  activityType,
  attempt: 1,
});

const WRONG = 'We add 12 and 5. 12 + 5 = 18. The answer is 18.';
const RIGHT = 'We add 12 and 5. 12 + 5 = 17. The answer is 17.';

function evidence(overrides: Partial<MetaExperienceDoc> = {}): AuditEvidence {
  const metaExperience: MetaExperienceDoc = {
    _id: 'run-1/step-0/p0/pair-s1-s0/me',
    runId: 'run-1',
    step: 0,
    promptId: 'run-1/step-0/p0',
    pairId: 'run-1/step-0/p0/pair-s1-s0',
    problemId: 'builtin-3',
    mode: 'single-call',
    generation: {
      turns: [{ promptTokens: [1], outputTokens: [2], text: 'raw', stopReason: 'stop' }],
      seed: 42,
      samplerPath: 'tinker://m/s',
    },
    parse: {
      ok: true,
      metaExperience: {
        bifurcationPoint: 'The step "12 + 5 = 18" adds wrongly',
        critique: 'carried a one too many',
        heuristics: ['recompute sums digit by digit', 'check the units digit'],
        reflectiveSummary: 'careless addition',
        rawText: 'raw',
      },
    },
    leakage: { leaked: false, offendingTokens: [], rejected: false },
    validation: {
      promptText: 'p',
      tokens: [1, 2],
      text: '12 + 5 = 17, so 17',
      stopReason: 'stop',
      seed: 7,
      extractedAnswer: '17',
      groundTruth: '17',
      correct: true,
    },
    verdict: { accepted: true, reason: 'replay-verified', detail: 'replay answered 17, which matches 17' },
    internalization: { step: 0, datumId: 'run-1/step-0/nll/x', nll: 2.5, tokens: 40, tokenWeight: 0.025 },
    origin: {
      summarize: origin('summarize'),
      validate: origin('validate'),
      internalize: origin('internalize'),
    },
    ...overrides,
  };
  const trajectory = (sampleIndex: number, text: string) => ({
    _id: `run-1/step-0/p0/s${sampleIndex}`,
    runId: 'run-1',
    step: 0,
    promptId: 'run-1/step-0/p0',
    problemId: 'builtin-3',
    sampleIndex,
    seed: 99,
    tokens: [1, 2, 3],
    logprobs: [-1, -1, -1],
    text,
    stopReason: 'stop' as const,
    samplerPath: 'tinker://m/s',
    origin: origin('rollout'),
  });
  const reward = (sampleIndex: number, value: 0 | 1, answer: string) => ({
    _id: `run-1/step-0/p0/s${sampleIndex}`,
    runId: 'run-1',
    step: 0,
    promptId: 'run-1/step-0/p0',
    sampleIndex,
    reward: value,
    extractedAnswer: answer,
    extractionMethod: 'last-number',
    groundTruth: '17',
    origin: origin('verify'),
  });
  const policyAfter = {
    statePath: 'tinker://m/weights/step-0',
    samplerPath: 'tinker://m/s1',
    modelId: 'm',
    updates: 1,
    rank: 8,
  };
  return {
    metaExperience,
    run: null,
    prompt: {
      _id: 'run-1/step-0/p0',
      runId: 'run-1',
      step: 0,
      promptIndex: 0,
      problem: { id: 'builtin-3', question: 'What is 12 + 5?', answer: '17' },
      promptText: 'What is 12 + 5?',
      promptTokens: [1],
      origin: origin('rollout'),
    },
    pair: {
      _id: metaExperience.pairId,
      runId: 'run-1',
      step: 0,
      promptId: 'run-1/step-0/p0',
      problemId: 'builtin-3',
      positiveTrajectoryId: 'run-1/step-0/p0/s1',
      negativeTrajectoryId: 'run-1/step-0/p0/s0',
      origin: origin('contrast'),
    },
    positive: trajectory(1, RIGHT),
    negative: trajectory(0, WRONG),
    positiveReward: reward(1, 1, '17'),
    negativeReward: reward(0, 0, '18'),
    step: {
      _id: 'run-1/step-0',
      runId: 'run-1',
      step: 0,
      update: {
        policyAfter,
        grpoLoss: 0.12,
        nllLoss: 2.5,
        grpoDatums: 3,
        nllDatums: 1,
        optimizerMetrics: {},
        engineModelId: 'm',
        origin: origin('policyUpdate'),
      },
    },
  };
}

const links = { namespace: 'default', uiUrl: 'http://127.0.0.1:18233/' };

describe('locateBifurcation', () => {
  it('marks the span that the bifurcation point quotes, found verbatim in the incorrect solution', () => {
    const mark = locateBifurcation(WRONG, RIGHT, 'The step "12 + 5 = 18" adds wrongly');
    expect(mark).toEqual({
      start: WRONG.indexOf('12 + 5 = 18'),
      end: WRONG.indexOf('12 + 5 = 18') + 11,
      method: 'quoted-by-critique',
    });
  });

  it('ignores case and prefers the longest quote that is found', () => {
    const mark = locateBifurcation(WRONG, RIGHT, "`We add` then 'THE ANSWER IS 18'");
    expect(WRONG.slice(mark!.start, mark!.end)).toBe('The answer is 18');
  });

  it('falls back to where the two solutions first differ when nothing quoted is found', () => {
    const mark = locateBifurcation(WRONG, RIGHT, 'an arithmetic slip');
    expect(mark).toEqual({
      start: WRONG.indexOf('8.'),
      end: WRONG.indexOf('8.'),
      method: 'first-divergence',
    });
  });

  it('marks nothing without a quote or a correct solution to compare with', () => {
    expect(locateBifurcation(WRONG, null, null)).toBeNull();
    expect(locateBifurcation('same', 'same', null)).toBeNull();
  });

  it('quotedSpans reads straight, curly and backtick quotes, and the whole text', () => {
    expect(quotedSpans('a "b c" and “d e” and `f`')).toEqual([
      'b c',
      'd e',
      'f',
      'a "b c" and “d e” and `f`',
    ]);
  });
});

describe('assembleAudit', () => {
  it('links question, both trajectories with rewards, reflection, replay, decision and internalization', () => {
    const audit = assembleAudit(evidence(), links);
    expect(audit.question).toEqual({ text: 'What is 12 + 5?', groundTruth: '17' });
    expect(audit.correct).toMatchObject({ id: 'run-1/step-0/p0/s1', reward: 1, extractedAnswer: '17' });
    expect(audit.incorrect).toMatchObject({ id: 'run-1/step-0/p0/s0', reward: 0, extractedAnswer: '18' });
    expect(audit.incorrect!.bifurcation!.method).toBe('quoted-by-critique');
    expect(audit.heuristics).toEqual(['recompute sums digit by digit', 'check the units digit']);
    expect(audit.decision).toEqual({
      accepted: true,
      reason: 'replay-verified',
      detail: 'replay answered 17, which matches 17',
    });
    expect(audit.validation!.correct).toBe(true);
    expect(audit.internalization).toMatchObject({
      step: 0,
      nll: 2.5,
      stepGrpoLoss: 0.12,
      stepNllLoss: 2.5,
      policyUpdatesAfter: 1,
    });
  });

  it('lists the Temporal origin of every stage in pipeline order, with UI links to each history', () => {
    const audit = assembleAudit(evidence(), links);
    expect(audit.temporal.map((o) => o.stage)).toEqual([...STAGES]);
    expect(audit.temporal[3]!.url).toBe(
      'http://127.0.0.1:18233/namespaces/default/workflows/run-1%2Fstep-0/wf-run-summarize/history',
    );
  });

  it('shows a rejected, unparseable candidate with its reason and without internalization', () => {
    const audit = assembleAudit(
      evidence({
        parse: { ok: false, reason: 'no heuristics section' },
        leakage: undefined,
        validation: undefined,
        verdict: { accepted: false, reason: 'unparseable', detail: 'no heuristics section' },
        internalization: undefined,
      }),
      { namespace: 'default' },
    );
    expect(audit.parse).toEqual({ ok: false, reason: 'no heuristics section' });
    expect(audit.critique).toBeNull();
    expect(audit.incorrect!.bifurcation!.method).toBe('first-divergence');
    expect(audit.internalization).toBeNull();
    expect(audit.temporal.map((o) => o.stage)).not.toContain('policy-update');
    expect(audit.temporal.every((o) => o.url === undefined)).toBe(true);
  });

  it('historyUrl is undefined when the UI address is unknown', () => {
    expect(historyUrl({ namespace: 'default' }, { workflowId: 'a', workflowRunId: 'b' })).toBeUndefined();
  });
});

describe('renderAudit', () => {
  it('shows every part of the evidence chain in order, with s* marked in the incorrect solution', () => {
    const text = renderAudit(assembleAudit(evidence(), links));
    const headings = [
      '1. QUESTION',
      '2. CORRECT TRAJECTORY',
      '3. INCORRECT TRAJECTORY',
      '4. BIFURCATION POINT',
      '5. CRITIQUE',
      '6. HEURISTICS',
      '7. LEAKAGE CHECK',
      '8. VALIDATION REPLAY',
      '9. DECISION',
      '10. INTERNALIZATION',
      '11. TEMPORAL',
    ];
    const positions = headings.map((heading) => text.indexOf(heading));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(text).toContain(`${MARK_START}12 + 5 = 18${MARK_END}`);
    expect(text).toContain('ACCEPTED (replay-verified)');
    expect(text).toContain('2. check the units digit');
    expect(text).toContain('extracted 17 vs ground truth 17: correct');
    expect(text).toContain('/namespaces/default/workflows/run-1%2Fstep-0/');
  });

  it('says why a rejected candidate was not internalized and shows its raw output when unparseable', () => {
    const text = renderAudit(
      assembleAudit(
        evidence({
          parse: { ok: false, reason: 'no heuristics section' },
          verdict: { accepted: false, reason: 'unparseable', detail: 'no heuristics section' },
          internalization: undefined,
          validation: undefined,
        }),
        links,
      ),
    );
    expect(text).toContain('REJECTED (unparseable)');
    expect(text).toContain('parse error: no heuristics section');
    expect(text).toContain('not internalized (only accepted meta-experiences are)');
    expect(text).toContain(MARK_POINT);
  });

  it('shows every replay and how many verified when there were several', () => {
    const replay = (seed: number, answer: string) => ({
      promptText: 'p',
      tokens: [1, 2],
      text: `so ${answer}`,
      stopReason: 'stop' as const,
      seed,
      extractedAnswer: answer,
      groundTruth: '17',
      correct: answer === '17',
    });
    const audit = assembleAudit(
      evidence({
        validation: replay(7, '17'),
        laterReplays: [replay(8, '18'), replay(9, '17')],
        verdict: {
          accepted: true,
          reason: 'replay-verified',
          detail: '2 of 3 replays answered 17, 2 needed; the other answered 18',
        },
      }),
      links,
    );
    expect(audit.validation!.seed).toBe(7);
    expect(audit.replays.map((r) => r.seed)).toEqual([7, 8, 9]);
    const text = renderAudit(audit);
    expect(text).toContain('8. VALIDATION REPLAYS (2 of 3 correct)');
    expect(text).toContain('replay 2 of 3');
    expect(text).toContain('extracted 18 vs ground truth 17: wrong');
    expect(text).toContain('2 of 3 replays answered 17, 2 needed; the other answered 18');
    expect(text.indexOf('9. DECISION')).toBeGreaterThan(text.indexOf('replay 3 of 3'));
  });

  it('says that a reflection that did not parse was replayed with its raw output (gate replay-only)', () => {
    const text = renderAudit(
      assembleAudit(
        evidence({
          parse: { ok: false, reason: 'truncated' },
          verdict: {
            accepted: true,
            reason: 'replay-verified',
            detail: 'replay answered 17, which matches 17; replayed unparsed (truncated)',
          },
        }),
        links,
      ),
    );
    expect(text).toContain('replayed with this raw output (gate replay-only)');
    expect(text).toContain('parse error: truncated');
    expect(text).toContain('8. VALIDATION REPLAY\n');
  });

  it('says when the engine could not give the reflection, and why', () => {
    const failure = {
      reason: 'engine-rejected' as const,
      detail: "This model's maximum context length is 2048",
    };
    const text = renderAudit(
      assembleAudit(
        evidence({
          generation: { turns: [], seed: 42, samplerPath: 'tinker://m/s', failure },
          parse: { ok: false, reason: 'not sampled (engine-rejected)' },
          verdict: {
            accepted: false,
            reason: 'sampling-failed',
            detail: `reflection: engine-rejected: ${failure.detail}`,
          },
          internalization: undefined,
          validation: undefined,
        }),
        links,
      ),
    );
    expect(text).toContain('META-EXPERIENCE (not sampled: the engine could not give it)');
    expect(text).toContain(`engine-rejected: ${failure.detail}`);
    expect(text).toContain('REJECTED (sampling-failed)');
  });

  it('says that a candidate stating the answer was rejected before its replay, and what was compared', () => {
    const text = renderAudit(
      assembleAudit(
        evidence({
          leakage: {
            leaked: true,
            offendingTokens: ['12'],
            answerStatements: ['\\frac{34}{2}'],
            answerSpans: { compared: 5, undecided: 1, capReached: false },
            rejected: true,
          },
          verdict: {
            accepted: false,
            reason: 'states-answer',
            detail: 'states the answer 17 as \\frac{34}{2}',
          },
          internalization: undefined,
          validation: undefined,
        }),
        links,
      ),
    );
    expect(text).toContain('REJECTED (states-answer)');
    expect(text).toContain(
      'states the answer: \\frac{34}{2}; rejected before its replay, whatever the leakage policy',
    );
    expect(text).toContain('mentions problem specifics: 12\n');
    expect(text).toContain('answer-like spans compared with the ground truth: 5; 1 undecided');
    expect(text).toContain('not replayed (rejected before validation, or not validated yet)');
  });
});

describe('the engine and policy of each sample', () => {
  it('shows on which engine and from which policy the trajectories, reflection and replay were sampled', () => {
    const policy = { statePath: 'tinker://m/weights/init', samplerPath: 'tinker://m/init', updates: 0 };
    const on = (engine: string) => ({ engine, policy });
    const base = evidence();
    const sampled = evidence({
      generation: { ...base.metaExperience.generation, sampledBy: on('gpu-2:8000') },
      validation: { ...base.metaExperience.validation!, sampledBy: on('gpu-3:8000') },
    });
    sampled.negative = { ...sampled.negative!, sampledBy: on('gpu-1:8000') };
    const text = renderAudit(assembleAudit(sampled, links));
    const clause = (engine: string) => `on engine ${engine} by policy tinker://m/weights/init (0 updates)`;
    expect(text).toContain(`seed 99, sampled ${clause('gpu-1:8000')}`);
    expect(text).toContain(`by tinker://m/s, sampled ${clause('gpu-2:8000')}`);
    expect(text).toMatch(new RegExp(`sampled:\\s+${clause('gpu-3:8000').replace(/[()]/g, '\\$&')}`));
    expect(renderAudit(assembleAudit(base, links))).not.toContain('on engine');
  });
});

describe('markBifurcation', () => {
  it('brackets a span, or inserts a point marker', () => {
    expect(markBifurcation('abcdef', { start: 1, end: 3, method: 'quoted-by-critique' })).toBe(
      `a${MARK_START}bc${MARK_END}def`,
    );
    expect(markBifurcation('abcdef', { start: 2, end: 2, method: 'first-divergence' })).toBe(
      `ab${MARK_POINT}cdef`,
    );
    expect(markBifurcation('abc', null)).toBe('abc');
  });
});
