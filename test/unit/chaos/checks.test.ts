import { describe, expect, it } from 'vitest';
import {
  auditGaps,
  checkFaults,
  checkRun,
  type FaultRecord,
  type RunEvidence,
} from '../../../chaos/checks.js';
import type { Fault } from '../../../chaos/schedule.js';
import type { AuditRecord, OriginView } from '../../../store/audit.js';
import { ids, type MetaExperienceDoc, type StepDoc } from '../../../store/documents.js';
import type { StageName } from '../../../temporal/contracts/run.js';

const RUN = 'run-1';
const STEPS = 2;
const BATCH = 2;
const G = 2;

const origin = (stage: StageName): OriginView => ({
  stage,
  workflowId: `${RUN}/step-0`,
  workflowRunId: 'r',
  activityId: '1',
  activityType: stage,
  attempt: 1,
});

function audit(id: string, step: number, accepted: boolean): AuditRecord {
  const trajectory = {
    text: 't',
    extractedAnswer: '1',
    extractionMethod: 'boxed',
    stopReason: 'stop' as const,
    seed: 1,
    tokens: 3,
  };
  const stages: StageName[] = ['rollout', 'verify', 'contrast', 'summarize', 'validate'];
  const validation = accepted
    ? {
        promptText: 'p',
        tokens: [1],
        text: 't',
        stopReason: 'stop' as const,
        seed: 1,
        extractedAnswer: '1',
        groundTruth: '1',
        correct: true,
      }
    : null;
  return {
    id,
    runId: RUN,
    step,
    promptId: `${RUN}/step-${step}/p0`,
    pairId: id.replace(/\/me$/, ''),
    problemId: 'b-1',
    mode: 'single-call',
    question: { text: 'q', groundTruth: '1' },
    correct: { id: 'a', reward: 1, ...trajectory },
    incorrect: { id: 'b', reward: 0, ...trajectory, bifurcation: null },
    generation: { seed: 1, samplerPath: 'tinker://m/s', turns: [{ text: 'x', stopReason: 'stop' }] },
    parse: { ok: true },
    bifurcationPoint: 's',
    critique: 'c',
    reflectiveSummary: null,
    heuristics: ['h'],
    leakage: null,
    validation,
    replays: validation ? [validation] : [],
    decision: accepted
      ? { accepted: true, reason: 'replay-verified', detail: 'replay answered 1' }
      : { accepted: false, reason: 'unparseable', detail: 'missing-sections: summary' },
    internalization: accepted
      ? {
          step,
          datumId: 'd',
          nll: 0.1,
          tokens: 10,
          tokenWeight: 0.1,
          stepGrpoLoss: 0,
          stepNllLoss: 0.1,
          policyUpdatesAfter: step + 1,
          policyStatePath: `tinker://m/weights/${RUN}-step-${step}`,
        }
      : null,
    temporal: [...stages, ...(accepted ? (['internalize', 'policy-update'] as const) : [])].map(origin),
  };
}

/** A run of 2 steps × 2 prompts × 2 samples with everything in place: one pair per step, step 0's accepted. */
function wholeRun(): RunEvidence {
  const stepDocs: Pick<StepDoc, '_id' | 'step' | 'update' | 'metrics'>[] = [];
  const evidence: RunEvidence = {
    runId: RUN,
    steps: STEPS,
    batchSize: BATCH,
    groupSize: G,
    workflowStatus: 'COMPLETED',
    phase: 'completed',
    finalPolicy: {
      statePath: `tinker://m/weights/${RUN}-step-1`,
      samplerPath: 'tinker://m/s',
      modelId: 'm',
      updates: STEPS,
      rank: 8,
    },
    optimizerSteps: STEPS,
    stepDocs,
    prompts: [],
    trajectories: [],
    exclusions: [],
    rewards: [],
    pairs: [],
    candidates: [],
    nllDatums: [],
    audits: new Map(),
  };
  for (let step = 0; step < STEPS; step++) {
    stepDocs.push({
      _id: ids.step(RUN, step),
      step,
      update: { policyAfter: { updates: step + 1 } } as StepDoc['update'],
      metrics: {} as StepDoc['metrics'],
    });
    for (let p = 0; p < BATCH; p++) {
      const promptId = ids.prompt(RUN, step, p);
      evidence.prompts.push({ _id: promptId, step, promptIndex: p });
      for (let s = 0; s < G; s++) {
        const id = ids.trajectory(promptId, s);
        evidence.trajectories.push({ _id: id, step, promptId, sampleIndex: s });
        evidence.rewards.push({ _id: id, step });
      }
    }
    const pairId = ids.pair(ids.prompt(RUN, step, 0), 0, 1);
    const meId = ids.metaExperience(pairId);
    const accepted = step === 0;
    evidence.pairs.push({ _id: pairId, step });
    evidence.candidates.push({
      _id: meId,
      step,
      pairId,
      verdict: accepted
        ? { accepted: true, reason: 'replay-verified', detail: 'ok' }
        : { accepted: false, reason: 'unparseable', detail: 'x' },
      ...(accepted
        ? { internalization: { step, datumId: 'd', nll: 0.1, tokens: 10, tokenWeight: 0.1 } }
        : {}),
    } as Pick<MetaExperienceDoc, '_id' | 'step' | 'pairId' | 'verdict' | 'internalization'>);
    if (accepted) evidence.nllDatums.push({ _id: `${RUN}/step-0/nll/x`, step, sourceId: meId });
    evidence.audits.set(meId, audit(meId, step, accepted));
  }
  return evidence;
}

function failed(evidence: RunEvidence): Record<string, string> {
  return Object.fromEntries(
    checkRun(evidence)
      .filter((c) => !c.ok)
      .map((c) => [c.name, c.detail]),
  );
}

describe('the checks of a finished drill run', () => {
  it('all pass on a whole run, each with its numbers', () => {
    const checks = checkRun(wholeRun());
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ['run completed', true],
      ['exactly 2 update records', true],
      ['optimizer step counter = 2', true],
      ['trajectories: prompts × G − exclusions, no duplicate or missing', true],
      ['one reward per trajectory', true],
      ['one verdict per meta-experience candidate', true],
      ['every meta-experience auditable', true],
    ]);
    expect(checks[3]!.detail).toBe('per step 4 = 2×2 − 0; 4 = 2×2 − 0');
    expect(checks[5]!.detail).toBe('2 candidates for 2 pairs, 2 verdicts (1 accepted), 1 NLL datums');
    expect(checks[6]!.detail).toBe('2 of 2 audit records whole (1 accepted)');
  });

  it('fails a run that did not complete', () => {
    expect(failed({ ...wholeRun(), workflowStatus: 'RUNNING', phase: 'paused' })).toEqual({
      'run completed': 'workflow RUNNING, phase paused',
    });
  });

  it('fails a missing, a duplicate or a wrong update record', () => {
    const missing = wholeRun();
    missing.stepDocs.pop();
    expect(failed(missing)['exactly 2 update records']).toMatch(
      /1 update records .*step 1 has no update record/,
    );
    const twice = wholeRun();
    twice.stepDocs.push({ ...twice.stepDocs[1]!, _id: 'other' });
    expect(failed(twice)['exactly 2 update records']).toMatch(/step 1 recorded twice/);
    const applied = wholeRun();
    applied.stepDocs[1]!.update = { policyAfter: { updates: 3 } } as StepDoc['update'];
    expect(failed(applied)['exactly 2 update records']).toMatch(/3 updates, not 2/);
  });

  it("fails when the optimizer's own counter is off or unreadable", () => {
    expect(failed({ ...wholeRun(), optimizerSteps: 3 })['optimizer step counter = 2']).toMatch(
      /: 3; updates recorded .*: 2/,
    );
    expect(failed({ ...wholeRun(), optimizerSteps: 'unreadable: ENOENT' })).toHaveProperty([
      'optimizer step counter = 2',
    ]);
  });

  it('counts exclusions out of the expected trajectories, and fails a missing, duplicate or excluded one', () => {
    const name = 'trajectories: prompts × G − exclusions, no duplicate or missing';
    const excluded = wholeRun();
    const gone = excluded.trajectories.splice(1, 1)[0]!;
    excluded.rewards = excluded.rewards.filter((r) => r._id !== gone._id);
    excluded.exclusions.push({
      _id: gone._id,
      step: 0,
      promptId: gone.promptId,
      sampleIndex: 1,
      reason: 'missing-logprobs',
    });
    expect(failed(excluded)).toEqual({});
    expect(checkRun(excluded)[3]!.detail).toBe('per step 3 = 2×2 − 1; 4 = 2×2 − 0');

    const wholePrompt = wholeRun();
    const promptId = ids.prompt(RUN, 1, 1);
    wholePrompt.trajectories = wholePrompt.trajectories.filter((t) => t.promptId !== promptId);
    wholePrompt.rewards = wholePrompt.rewards.filter((r) => !r._id.startsWith(promptId));
    wholePrompt.exclusions.push({ _id: promptId, step: 1, promptId, reason: 'engine-rejected' });
    expect(failed(wholePrompt)).toEqual({});

    const missing = wholeRun();
    missing.trajectories.splice(0, 1);
    expect(failed(missing)[name]).toMatch(/missing trajectories run-1\/step-0\/p0\/s0/);

    const duplicate = wholeRun();
    duplicate.trajectories.push({ ...duplicate.trajectories[0]!, _id: 'run-1/step-0/p0/s0-again' });
    expect(failed(duplicate)[name]).toMatch(/duplicate trajectories run-1\/step-0\/p0\/s0/);

    const both = wholeRun();
    both.exclusions.push({
      _id: both.trajectories[0]!._id,
      step: 0,
      promptId: both.trajectories[0]!.promptId,
      sampleIndex: 0,
      reason: 'empty-sample',
    });
    expect(failed(both)[name]).toMatch(/excluded or unexpected run-1\/step-0\/p0\/s0/);

    const extra = wholeRun();
    extra.trajectories.push({
      _id: ids.trajectory(ids.prompt(RUN, 0, 0), 2),
      step: 0,
      promptId: ids.prompt(RUN, 0, 0),
      sampleIndex: 2,
    });
    expect(failed(extra)[name]).toMatch(/unexpected run-1\/step-0\/p0\/s2/);

    const fewerPrompts = wholeRun();
    fewerPrompts.prompts.pop();
    expect(failed(fewerPrompts)[name]).toMatch(/step 1: 1 prompts, not 2/);
  });

  it('fails a trajectory without its reward, a reward twice or one without trajectory', () => {
    const name = 'one reward per trajectory';
    const unscored = wholeRun();
    unscored.rewards.pop();
    expect(failed(unscored)[name]).toMatch(/7 rewards for 8 trajectories; no reward: run-1\/step-1\/p1\/s1/);
    const twice = wholeRun();
    twice.rewards.push(twice.rewards[0]!);
    expect(failed(twice)[name]).toMatch(/scored twice: run-1\/step-0\/p0\/s0/);
    const orphan = wholeRun();
    orphan.rewards.push({ _id: 'run-1/step-0/p9/s0', step: 0 });
    expect(failed(orphan)[name]).toMatch(/reward without trajectory/);
  });

  it('fails a pair without candidate, a candidate without verdict, and NLL datums off the accepted ones', () => {
    const name = 'one verdict per meta-experience candidate';
    const unjudged = wholeRun();
    delete unjudged.candidates[1]!.verdict;
    expect(failed(unjudged)[name]).toMatch(/1 verdicts .*no verdict: run-1\/step-1/);
    const lonely = wholeRun();
    lonely.pairs.push({ _id: 'run-1/step-1/p1/pair-s0-s1', step: 1 });
    expect(failed(lonely)[name]).toMatch(/pairs without a candidate: run-1\/step-1\/p1\/pair-s0-s1/);
    const notInternalized = wholeRun();
    notInternalized.nllDatums = [];
    expect(failed(notInternalized)[name]).toMatch(/accepted without NLL datum/);
    const twice = wholeRun();
    twice.nllDatums.push({ ...twice.nllDatums[0]!, _id: 'other' });
    expect(failed(twice)[name]).toMatch(/internalized twice/);
  });

  it('fails a meta-experience whose audit misses a link of its evidence chain', () => {
    const name = 'every meta-experience auditable';
    const unaudited = wholeRun();
    unaudited.audits.set(unaudited.candidates[0]!._id, null);
    expect(failed(unaudited)[name]).toMatch(/1 of 2 audit records whole .*no audit record/);

    const record = audit('run-1/step-0/p0/pair-s0-s1/me', 0, true);
    expect(auditGaps(record)).toEqual([]);
    expect(auditGaps({ ...record, question: null, incorrect: null })).toEqual([
      'question',
      'incorrect trajectory',
    ]);
    expect(auditGaps({ ...record, temporal: record.temporal.filter((o) => o.stage !== 'verify') })).toEqual([
      'Temporal origin of verify',
    ]);
    expect(auditGaps({ ...record, internalization: null })).toEqual(['internalization']);
    const notStamped = record.temporal.filter((o) => o.stage !== 'internalize');
    expect(auditGaps({ ...record, temporal: notStamped })).toEqual(['Temporal origin of internalize']);
    expect(
      auditGaps({ ...record, internalization: { ...record.internalization!, policyUpdatesAfter: 2 } }),
    ).toEqual(["the step's update record"]);
    const rejected = audit('run-1/step-1/p0/pair-s0-s1/me', 1, false);
    expect(auditGaps(rejected)).toEqual([]);
    expect(auditGaps({ ...rejected, decision: null })).toEqual(['decision']);
    expect(auditGaps({ ...rejected, internalization: record.internalization })).toEqual([
      'internalized though not accepted',
    ]);
  });
});

describe('the checks of the faults', () => {
  const kill: Fault = {
    id: 'f1',
    kind: 'kill-workers',
    targets: ['gpu'],
    duringPolicyUpdate: true,
    at: { step: 1, stage: 'policy-update', afterMs: 0 },
    downtimeMs: 1_000,
  };
  const restart: Fault = {
    id: 'f2',
    kind: 'restart',
    service: 'temporal',
    at: { step: 0, stage: 'rollout', afterMs: 0 },
    downtimeMs: 1_000,
  };

  it('pass when every fault fired and the history shows the killed policyUpdate retried', () => {
    const records: FaultRecord[] = [
      { fault: kill, injected: true, step: 2, stage: 'policy-update' },
      { fault: restart, injected: true },
    ];
    const attempts = new Map([[2, { attempt: 2, lastFailure: { message: 'activity Heartbeat timeout' } }]]);
    expect(checkFaults(records, attempts)).toEqual([
      { name: 'every planned fault injected', ok: true, detail: '2 of 2' },
      {
        name: 'a SIGKILL inside policyUpdate',
        ok: true,
        detail: 'f1 at step 2: policyUpdate completed on attempt 2 after "activity Heartbeat timeout"',
      },
    ]);
  });

  it('fail when a fault did not fire, or the policy update was not hit', () => {
    const records: FaultRecord[] = [
      { fault: kill, injected: true, step: 1 },
      { fault: restart, injected: false, note: 'the run closed' },
    ];
    const [injected, hit] = checkFaults(records, new Map([[1, { attempt: 1 }]]));
    expect(injected).toMatchObject({ ok: false, detail: '1 of 2; not injected: f2 (the run closed)' });
    expect(hit).toMatchObject({ ok: false, detail: 'f1 at step 1: policyUpdate completed on attempt 1' });
    expect(checkFaults([{ fault: kill, injected: false }], new Map())[1]).toMatchObject({
      ok: false,
      detail: 'no kill fired during a policy update',
    });
  });
});
