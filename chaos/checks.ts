/**
 * What the drill checks once its run has finished, over the documents it fetched (evidence.ts). Pure: each check
 * is a line with pass/fail and the numbers behind it.
 */
import type { AuditRecord } from '../store/audit.js';
import type {
  DatumDoc,
  ExclusionDoc,
  MetaExperienceDoc,
  PairDoc,
  PromptDoc,
  RewardDoc,
  StepDoc,
  TrajectoryDoc,
} from '../store/documents.js';
import { ids } from '../store/documents.js';
import type { PolicyRef } from '../temporal/contracts/common.js';
import type { ActivityAttempts } from '../temporal/history.js';
import type { StageName } from '../temporal/contracts/run.js';
import type { Fault } from './schedule.js';

export interface Check {
  name: string;
  ok: boolean;
  /** The numbers: what was found against what was expected, and any offending ids. */
  detail: string;
}

export interface RunEvidence {
  runId: string;
  steps: number;
  batchSize: number;
  groupSize: number;
  /** The run workflow's Temporal status and the run's own phase. */
  workflowStatus: string;
  phase: string | undefined;
  finalPolicy: PolicyRef | undefined;
  /** The optimizer's own step counter in the final saved training state; an error text when it could not be read. */
  optimizerSteps: number | string;
  stepDocs: Pick<StepDoc, '_id' | 'step' | 'update' | 'metrics'>[];
  prompts: Pick<PromptDoc, '_id' | 'step' | 'promptIndex'>[];
  trajectories: Pick<TrajectoryDoc, '_id' | 'step' | 'promptId' | 'sampleIndex'>[];
  exclusions: Pick<ExclusionDoc, '_id' | 'step' | 'promptId' | 'sampleIndex' | 'reason'>[];
  rewards: Pick<RewardDoc, '_id' | 'step'>[];
  pairs: Pick<PairDoc, '_id' | 'step'>[];
  candidates: Pick<MetaExperienceDoc, '_id' | 'step' | 'pairId' | 'verdict' | 'internalization'>[];
  nllDatums: Pick<DatumDoc, '_id' | 'step' | 'sourceId'>[];
  /** `mel audit`'s record of every candidate, by id (null: no meta-experience document under that id). */
  audits: Map<string, AuditRecord | null>;
}

const MAX_LISTED = 5;

function listed(items: readonly string[]): string {
  if (items.length <= MAX_LISTED) return items.join(', ');
  return `${items.slice(0, MAX_LISTED).join(', ')} and ${items.length - MAX_LISTED} more`;
}

/** Values that occur more than once. */
function duplicates(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const value of values) (seen.has(value) ? repeated : seen).add(value);
  return [...repeated];
}

function byStep<T extends { step: number }>(docs: readonly T[], step: number): T[] {
  return docs.filter((doc) => doc.step === step);
}

export function checkRun(evidence: RunEvidence): Check[] {
  return [
    checkCompleted(evidence),
    checkUpdateRecords(evidence),
    checkOptimizerSteps(evidence),
    checkTrajectories(evidence),
    checkRewards(evidence),
    checkVerdicts(evidence),
    checkAudits(evidence),
  ];
}

export function checkCompleted({ workflowStatus, phase }: RunEvidence): Check {
  return {
    name: 'run completed',
    ok: workflowStatus === 'COMPLETED' && phase === 'completed',
    detail: `workflow ${workflowStatus}, phase ${phase ?? 'unknown'}`,
  };
}

/** Exactly one update record per step, each one update further than the last, and every step's metrics. */
export function checkUpdateRecords({ steps, stepDocs }: RunEvidence): Check {
  const updated = stepDocs.filter((doc) => doc.update);
  const problems: string[] = [];
  const stepsSeen = updated.map((doc) => doc.step);
  for (const step of duplicates(stepsSeen.map(String))) problems.push(`step ${step} recorded twice`);
  for (let step = 0; step < steps; step++) {
    const doc = updated.find((candidate) => candidate.step === step);
    if (!doc) problems.push(`step ${step} has no update record`);
    else if (doc.update!.policyAfter.updates !== step + 1) {
      problems.push(
        `step ${step}: policy after it has ${doc.update!.policyAfter.updates} updates, not ${step + 1}`,
      );
    }
  }
  for (const doc of updated) if (doc.step >= steps) problems.push(`unexpected step ${doc.step}`);
  const withMetrics = stepDocs.filter((doc) => doc.metrics).length;
  if (withMetrics !== steps) problems.push(`${withMetrics} steps with metrics, not ${steps}`);
  return {
    name: `exactly ${steps} update records`,
    ok: problems.length === 0 && updated.length === steps,
    detail: `${updated.length} update records (expected ${steps}), ${withMetrics} steps with metrics${
      problems.length ? `; ${listed(problems)}` : ''
    }`,
  };
}

export function checkOptimizerSteps({ steps, optimizerSteps, finalPolicy }: RunEvidence): Check {
  const recorded = finalPolicy?.updates;
  return {
    name: `optimizer step counter = ${steps}`,
    ok: optimizerSteps === steps && recorded === steps,
    detail:
      `the optimizer's own counter in ${finalPolicy?.statePath ?? '(no final policy)'}: ${optimizerSteps}; ` +
      `updates recorded on the final policy: ${recorded ?? 'none'}`,
  };
}

/**
 * For every step: one prompt document per prompt of the batch, and every sample of every prompt either a
 * trajectory under its business key or recorded as excluded (the sample, or its whole prompt), never both, never
 * twice, nothing else.
 */
export function checkTrajectories(evidence: RunEvidence): Check {
  const { runId, steps, batchSize, groupSize } = evidence;
  const problems: string[] = [];
  const perStep: string[] = [];
  for (let step = 0; step < steps; step++) {
    const prompts = byStep(evidence.prompts, step);
    const trajectories = byStep(evidence.trajectories, step);
    const exclusions = byStep(evidence.exclusions, step);
    if (prompts.length !== batchSize)
      problems.push(`step ${step}: ${prompts.length} prompts, not ${batchSize}`);
    const expectedIds = new Set<string>();
    let excluded = 0;
    for (let promptIndex = 0; promptIndex < batchSize; promptIndex++) {
      const promptId = ids.prompt(runId, step, promptIndex);
      const wholePromptExcluded = exclusions.some((e) => e._id === promptId && e.sampleIndex === undefined);
      for (let sample = 0; sample < groupSize; sample++) {
        const id = ids.trajectory(promptId, sample);
        if (wholePromptExcluded || exclusions.some((e) => e._id === id)) excluded++;
        else expectedIds.add(id);
      }
    }
    const keys = trajectories.map((t) => ids.trajectory(t.promptId, t.sampleIndex));
    const misnamed = trajectories.filter((t, i) => t._id !== keys[i]).map((t) => t._id);
    const repeated = duplicates(keys);
    const found = new Set(keys);
    const missing = [...expectedIds].filter((id) => !found.has(id));
    const unexpected = [...found].filter((id) => !expectedIds.has(id));
    if (misnamed.length) problems.push(`step ${step}: not under their business key: ${listed(misnamed)}`);
    if (repeated.length) problems.push(`step ${step}: duplicate trajectories ${listed(repeated)}`);
    if (missing.length) problems.push(`step ${step}: missing trajectories ${listed(missing)}`);
    if (unexpected.length) problems.push(`step ${step}: excluded or unexpected ${listed(unexpected)}`);
    perStep.push(`${trajectories.length} = ${batchSize}×${groupSize} − ${excluded}`);
  }
  const other = evidence.trajectories.filter((t) => t.step < 0 || t.step >= steps).length;
  if (other) problems.push(`${other} trajectories of steps the run does not have`);
  return {
    name: 'trajectories: prompts × G − exclusions, no duplicate or missing',
    ok: problems.length === 0,
    detail: `per step ${perStep.join('; ')}${problems.length ? `; ${listed(problems)}` : ''}`,
  };
}

export function checkRewards({ trajectories, rewards }: RunEvidence): Check {
  const trajectoryIds = new Set(trajectories.map((t) => t._id));
  const rewardIds = rewards.map((r) => r._id);
  const repeated = duplicates(rewardIds);
  const scored = new Set(rewardIds);
  const unscored = [...trajectoryIds].filter((id) => !scored.has(id));
  const orphans = [...scored].filter((id) => !trajectoryIds.has(id));
  const problems = [
    ...(repeated.length ? [`scored twice: ${listed(repeated)}`] : []),
    ...(unscored.length ? [`no reward: ${listed(unscored)}`] : []),
    ...(orphans.length ? [`reward without trajectory: ${listed(orphans)}`] : []),
  ];
  return {
    name: 'one reward per trajectory',
    ok: problems.length === 0,
    detail: `${rewards.length} rewards for ${trajectoryIds.size} trajectories${problems.length ? `; ${problems.join('; ')}` : ''}`,
  };
}

/** One candidate per pair, one verdict per candidate, and an NLL datum for exactly the accepted ones. */
export function checkVerdicts({ pairs, candidates, nllDatums }: RunEvidence): Check {
  const pairIds = new Set(pairs.map((p) => p._id));
  const candidatePairs = candidates.map((c) => c.pairId);
  const problems: string[] = [];
  const repeated = duplicates(candidatePairs);
  if (repeated.length) problems.push(`pairs with more than one candidate: ${listed(repeated)}`);
  const withCandidate = new Set(candidatePairs);
  const without = [...pairIds].filter((id) => !withCandidate.has(id));
  if (without.length) problems.push(`pairs without a candidate: ${listed(without)}`);
  const misnamed = candidates.filter((c) => c._id !== ids.metaExperience(c.pairId)).map((c) => c._id);
  if (misnamed.length) problems.push(`candidates not under their pair's key: ${listed(misnamed)}`);
  const orphans = candidates.filter((c) => !pairIds.has(c.pairId)).map((c) => c._id);
  if (orphans.length) problems.push(`candidates without a pair: ${listed(orphans)}`);
  const unjudged = candidates.filter((c) => !c.verdict).map((c) => c._id);
  if (unjudged.length) problems.push(`no verdict: ${listed(unjudged)}`);
  const accepted = candidates.filter((c) => c.verdict?.accepted).map((c) => c._id);
  const datumSources = nllDatums.map((d) => d.sourceId);
  const twice = duplicates(datumSources);
  if (twice.length) problems.push(`internalized twice: ${listed(twice)}`);
  const internalized = new Set(datumSources);
  const notInternalized = accepted.filter((id) => !internalized.has(id));
  if (notInternalized.length) problems.push(`accepted without NLL datum: ${listed(notInternalized)}`);
  const acceptedSet = new Set(accepted);
  const unaccepted = [...internalized].filter((id) => !acceptedSet.has(id));
  if (unaccepted.length) problems.push(`NLL datum of a candidate not accepted: ${listed(unaccepted)}`);
  return {
    name: 'one verdict per meta-experience candidate',
    ok: problems.length === 0,
    detail:
      `${candidates.length} candidates for ${pairIds.size} pairs, ${candidates.length - unjudged.length} verdicts ` +
      `(${accepted.length} accepted), ${nllDatums.length} NLL datums${problems.length ? `; ${listed(problems)}` : ''}`,
  };
}

/** The stages every candidate passed through; internalize and the policy update only the accepted ones. */
const ORIGIN_STAGES: StageName[] = ['rollout', 'verify', 'contrast', 'summarize', 'validate'];

/** What makes one audit record whole: every link of the evidence chain `mel audit` shows. Empty when whole. */
export function auditGaps(audit: AuditRecord): string[] {
  const gaps: string[] = [];
  if (!audit.question) gaps.push('question');
  if (!audit.correct) gaps.push('correct trajectory');
  else if (audit.correct.reward !== 1) gaps.push(`correct trajectory's reward is ${audit.correct.reward}`);
  if (!audit.incorrect) gaps.push('incorrect trajectory');
  else if (audit.incorrect.reward !== 0)
    gaps.push(`incorrect trajectory's reward is ${audit.incorrect.reward}`);
  if (audit.generation.turns.length === 0 && !audit.generation.failure) gaps.push('reflection');
  if (!audit.decision) gaps.push('decision');
  else if (!audit.decision.detail) gaps.push("decision's reason");
  const stages = new Set(audit.temporal.map((origin) => origin.stage));
  const missingOrigins = ORIGIN_STAGES.filter((stage) => !stages.has(stage));
  if (missingOrigins.length) gaps.push(`Temporal origin of ${missingOrigins.join(', ')}`);
  if (audit.decision?.accepted) {
    if (!audit.validation?.correct) gaps.push('a verified replay');
    const internalization = audit.internalization;
    if (!internalization) gaps.push('internalization');
    else {
      if (internalization.step !== audit.step) gaps.push(`internalized at step ${internalization.step}`);
      if (internalization.policyUpdatesAfter !== audit.step + 1 || !internalization.policyStatePath) {
        gaps.push("the step's update record");
      }
      for (const stage of ['internalize', 'policy-update'] as const) {
        if (!stages.has(stage)) gaps.push(`Temporal origin of ${stage}`);
      }
    }
  } else if (audit.internalization) gaps.push('internalized though not accepted');
  return gaps;
}

export function checkAudits({ candidates, audits }: RunEvidence): Check {
  const problems: string[] = [];
  for (const { _id } of candidates) {
    const audit = audits.get(_id);
    if (!audit) problems.push(`${_id}: no audit record`);
    else {
      const gaps = auditGaps(audit);
      if (gaps.length) problems.push(`${_id}: missing ${gaps.join(', ')}`);
    }
  }
  const accepted = candidates.filter((c) => c.verdict?.accepted).length;
  return {
    name: 'every meta-experience auditable',
    ok: problems.length === 0,
    detail:
      `${candidates.length - problems.length} of ${candidates.length} audit records whole (${accepted} accepted)` +
      (problems.length ? `; ${listed(problems)}` : ''),
  };
}

/** What happened to one planned fault during the drill. */
export interface FaultRecord {
  fault: Fault;
  injected: boolean;
  /** Seconds since the drill started the run. */
  atS?: number;
  /** Where the run was when the fault fired. */
  step?: number;
  stage?: string;
  /** What was done: pids killed, the activity attempt hit, the service's downtime. */
  detail?: string;
  /** Seconds until the killed processes answered again. */
  recoveredS?: number;
  /** Why it did not fire, or fired elsewhere than planned. */
  note?: string;
}

/**
 * The faults themselves: all fired, and at least one SIGKILL hit a running policyUpdate, as the step's history
 * confirms (its policyUpdate completed on a later attempt than the one killed).
 */
export function checkFaults(
  records: readonly FaultRecord[],
  policyUpdateAttempts: ReadonlyMap<number, ActivityAttempts | undefined>,
): Check[] {
  const missed = records.filter((record) => !record.injected);
  const hits = records.filter(
    (r) => r.fault.kind === 'kill-workers' && r.fault.duringPolicyUpdate && r.injected,
  );
  const confirmed = hits.filter((r) => (policyUpdateAttempts.get(r.step!)?.attempt ?? 0) >= 2);
  return [
    {
      name: 'every planned fault injected',
      ok: missed.length === 0,
      detail:
        `${records.length - missed.length} of ${records.length}` +
        (missed.length
          ? `; not injected: ${missed.map((r) => `${r.fault.id} (${r.note ?? '?'})`).join(', ')}`
          : ''),
    },
    {
      name: 'a SIGKILL inside policyUpdate',
      ok: confirmed.length > 0,
      detail:
        hits
          .map((r) => {
            const attempts = policyUpdateAttempts.get(r.step!);
            return (
              `${r.fault.id} at step ${r.step}: policyUpdate completed on attempt ${attempts?.attempt ?? '?'}` +
              (attempts?.lastFailure ? ` after "${attempts.lastFailure.message}"` : '')
            );
          })
          .join('; ') || 'no kill fired during a policy update',
    },
  ];
}
