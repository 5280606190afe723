/** The readable evidence chain of one meta-experience (`mel audit`). */
import type { AnswerSpanTally } from '../mel/index.js';
import type { AuditRecord, BifurcationMark } from '../store/audit.js';
import type { MetaExperienceDoc, ReplayRecord, SampledBy } from '../store/documents.js';
import { decimal, fields, indent, section, table } from './format.js';

export const MARK_START = '⟦s*▸';
export const MARK_END = '◂⟧';
export const MARK_POINT = '⟦s*: diverges here⟧';

/** The incorrect solution with s* marked: the quoted span bracketed, or a marker at the first divergence. */
export function markBifurcation(text: string, mark: BifurcationMark | null): string {
  if (!mark) return text;
  if (mark.method === 'first-divergence')
    return `${text.slice(0, mark.start)}${MARK_POINT}${text.slice(mark.start)}`;
  return `${text.slice(0, mark.start)}${MARK_START}${text.slice(mark.start, mark.end)}${MARK_END}${text.slice(mark.end)}`;
}

/** The engine and policy version a sample records (none on samples stored before they were recorded). */
function sampledOn(sampledBy: SampledBy | undefined): string | undefined {
  if (!sampledBy) return undefined;
  const { engine, policy } = sampledBy;
  return `on engine ${engine} by policy ${policy.statePath} (${policy.updates} updates)`;
}

function sampledClause(sampledBy: SampledBy | undefined): string {
  return sampledBy ? `, sampled ${sampledOn(sampledBy)}` : '';
}

function endedBy(stopReason: 'stop' | 'length'): string {
  return stopReason === 'stop' ? 'end-of-turn token' : 'token limit (truncated)';
}

export function verdictLabel(verdict: MetaExperienceDoc['verdict'] | null | undefined): string {
  if (!verdict) return 'PENDING (not validated yet)';
  return `${verdict.accepted ? 'ACCEPTED' : 'REJECTED'} (${verdict.reason})`;
}

export function renderAudit(audit: AuditRecord): string {
  return [
    `meta-experience ${audit.id}`,
    indent(
      fields([
        ['run', `${audit.runId}, step ${audit.step}, prompt ${audit.promptId}`],
        ['problem', audit.problemId],
        ['mode', audit.mode],
        ['decision', `${verdictLabel(audit.decision)}${audit.decision ? `: ${audit.decision.detail}` : ''}`],
      ]),
      '  ',
    ),
    '',
    question(audit),
    trajectories(audit),
    reflection(audit),
    leakage(audit),
    validation(audit),
    decision(audit),
    internalization(audit),
    temporal(audit),
  ].join('\n');
}

function question(audit: AuditRecord): string {
  if (!audit.question) return section('1. QUESTION', '(prompt document missing)');
  return section('1. QUESTION', `${audit.question.text}\nground truth: ${audit.question.groundTruth}`);
}

function trajectories(audit: AuditRecord): string {
  const describe = (t: NonNullable<AuditRecord['correct']>) =>
    `${t.id}: reward ${t.reward ?? '?'}, extracted answer ${t.extractedAnswer ?? '(none)'}` +
    `${t.extractionMethod ? ` via ${t.extractionMethod}` : ''}, ${t.tokens} tokens ended by ${endedBy(t.stopReason)}, seed ${t.seed}${sampledClause(t.sampledBy)}`;
  const correct = audit.correct
    ? section(`2. CORRECT TRAJECTORY  ${describe(audit.correct)}`, audit.correct.text)
    : section('2. CORRECT TRAJECTORY', '(missing)');
  const incorrect = audit.incorrect;
  if (!incorrect) return `${correct}\n${section('3. INCORRECT TRAJECTORY', '(missing)')}`;
  const where = !incorrect.bifurcation
    ? 'bifurcation point not located'
    : incorrect.bifurcation.method === 'quoted-by-critique'
      ? `s* marked ${MARK_START}…${MARK_END}: the span the bifurcation point quotes`
      : `s* not quoted verbatim; ${MARK_POINT} marks where it first differs from the correct trajectory`;
  return [
    correct,
    section(
      `3. INCORRECT TRAJECTORY  ${describe(incorrect)}`,
      `(${where})\n${markBifurcation(incorrect.text, incorrect.bifurcation)}`,
    ),
  ].join('\n');
}

function reflection(audit: AuditRecord): string {
  const generation = `generated with seed ${audit.generation.seed} by ${audit.generation.reflector ?? audit.generation.samplerPath}${sampledClause(audit.generation.sampledBy)}, ${audit.generation.turns.length} turn(s)`;
  const { failure } = audit.generation;
  if (failure) {
    return section(
      '4-6. META-EXPERIENCE (not sampled: the engine could not give it)',
      `${generation}\n${failure.reason}: ${failure.detail}`,
    );
  }
  if (!audit.parse.ok) {
    const raw = audit.generation.turns.map((turn) => turn.text).join('\n---\n');
    // Gate 'replay-only' replays a reflection that did not parse with its raw text.
    const replayed = audit.replays.length > 0 ? '; replayed with this raw output (gate replay-only)' : '';
    return section(
      `4-6. META-EXPERIENCE (unparseable: no s*, critique or heuristics could be read${replayed})`,
      `${generation}\nparse error: ${audit.parse.reason}\nraw output:\n${raw}`,
    );
  }
  const heuristics = audit.heuristics.map((h, i) => `${i + 1}. ${h}`).join('\n');
  return [
    section('4. BIFURCATION POINT (s*)', audit.bifurcationPoint ?? ''),
    section(
      '5. CRITIQUE (C)',
      `${audit.critique ?? ''}${audit.reflectiveSummary ? `\nsummary: ${audit.reflectiveSummary}` : ''}`,
    ),
    section('6. HEURISTICS (H)', `${heuristics}\n(${generation})`),
  ].join('\n');
}

function leakage(audit: AuditRecord): string {
  const check = audit.leakage;
  if (!check) return section('7. LEAKAGE CHECK', 'not checked (the meta-experience did not parse)');
  const statements = check.answerStatements ?? [];
  const policy = check.rejected ? 'rejected for it' : 'allowed by the leakage policy';
  const lines = [
    statements.length > 0 &&
      `states the answer: ${statements.join(', ')}; rejected before its replay, whatever the leakage policy`,
    check.offendingTokens.length > 0 &&
      `mentions problem specifics: ${check.offendingTokens.join(', ')}${statements.length > 0 ? '' : `; ${policy}`}`,
    !check.leaked && 'no problem-specific numbers, answer or statement of the answer found',
    check.answerSpans && spanTally(check.answerSpans),
  ];
  return section('7. LEAKAGE CHECK', lines.filter(Boolean).join('\n'));
}

function spanTally({ compared, undecided, capReached }: AnswerSpanTally): string {
  const notes = [
    undecided > 0 && `${undecided} undecided (verifier timeout or error)`,
    capReached && 'more not compared (maxComparedSpans reached)',
  ].filter(Boolean);
  return `answer-like spans compared with the ground truth: ${[compared, ...notes].join('; ')}`;
}

function validation(audit: AuditRecord): string {
  const { replays } = audit;
  if (replays.length === 0)
    return section('8. VALIDATION REPLAY', 'not replayed (rejected before validation, or not validated yet)');
  if (replays.length === 1) return section('8. VALIDATION REPLAY', replayBody(replays[0]!));
  const correct = replays.filter((replay) => replay.correct).length;
  return section(
    `8. VALIDATION REPLAYS (${correct} of ${replays.length} correct)`,
    replays
      .map((replay, i) => section(`replay ${i + 1} of ${replays.length}`, replayBody(replay)))
      .join('\n'),
  );
}

function replayBody(replay: ReplayRecord): string {
  return (
    `${replay.text}\n---\n` +
    fields([
      ['seed', String(replay.seed)],
      ['ended by', endedBy(replay.stopReason)],
      ['sampled', sampledOn(replay.sampledBy)],
      [
        'verification',
        `extracted ${replay.extractedAnswer ?? '(no answer)'} vs ground truth ${replay.groundTruth}: ${replay.correct ? 'correct' : 'wrong'}`,
      ],
    ])
  );
}

function decision(audit: AuditRecord): string {
  const body = audit.decision
    ? `${verdictLabel(audit.decision)}\n${audit.decision.detail}`
    : verdictLabel(null);
  return section('9. DECISION', body);
}

function internalization(audit: AuditRecord): string {
  const i = audit.internalization;
  if (!i) {
    const why = audit.decision?.accepted
      ? 'not internalized yet'
      : 'not internalized (only accepted meta-experiences are)';
    return section('10. INTERNALIZATION', why);
  }
  return section(
    '10. INTERNALIZATION',
    fields([
      ['step', String(i.step)],
      ['datum', i.datumId],
      [
        'NLL',
        `${decimal(i.nll)} per token over ${i.tokens} tokens (token weight ${decimal(i.tokenWeight, 6)})`,
      ],
      ['step losses', `GRPO ${decimal(i.stepGrpoLoss)}, NLL ${decimal(i.stepNllLoss)}`],
      [
        'policy after',
        i.policyStatePath ? `${i.policyStatePath} (${i.policyUpdatesAfter} updates)` : undefined,
      ],
    ]),
  );
}

function temporal(audit: AuditRecord): string {
  const rows = audit.temporal.map((o) => [
    o.stage,
    o.workflowId,
    o.activityId,
    `${o.activityType}#${o.attempt}`,
    o.workflowRunId,
  ]);
  const links = [...new Map(audit.temporal.filter((o) => o.url).map((o) => [o.url!, o.workflowId])).entries()]
    .map(([url, workflowId]) => `${workflowId}: ${url}`)
    .join('\n');
  const body = table(['STAGE', 'WORKFLOW', 'ACTIVITY', 'TYPE#ATTEMPT', 'WORKFLOW RUN'], rows, 200);
  return section('11. TEMPORAL (raw history)', links ? `${body}\n\nhistory in the UI:\n${links}` : body);
}
