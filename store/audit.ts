/**
 * The evidence chain of one meta-experience, assembled from its documents: what `mel audit` shows. Pure, so the
 * assembly is unit-tested without a database; `loadAuditEvidence` in queries.ts fetches the documents.
 */
import type { Exclusion } from '../mel/index.js';
import type { StageName } from '../temporal/contracts/run.js';
import { historyUrl, type TemporalLinks } from '../temporal/ui.js';
import { decodeTokens } from './token-codec.js';
import {
  replaysOf,
  type MetaExperienceDoc,
  type PairDoc,
  type PromptDoc,
  type SampledReplay,
  type RewardDoc,
  type RunDoc,
  type SampledBy,
  type StepDoc,
  type TemporalOrigin,
  type TrajectoryDoc,
} from './documents.js';

export interface AuditEvidence {
  metaExperience: MetaExperienceDoc;
  run: RunDoc | null;
  prompt: PromptDoc | null;
  pair: PairDoc | null;
  positive: TrajectoryDoc | null;
  negative: TrajectoryDoc | null;
  positiveReward: RewardDoc | null;
  negativeReward: RewardDoc | null;
  step: StepDoc | null;
}

/** Where the incorrect trajectory went astray: a span quoted by s*, or the first divergence from the correct one. */
export interface BifurcationMark {
  start: number;
  end: number;
  method: 'quoted-by-critique' | 'first-divergence';
}

export interface TrajectoryView {
  id: string;
  text: string;
  reward: 0 | 1 | null;
  extractedAnswer: string | null;
  extractionMethod: string | null;
  stopReason: 'stop' | 'length';
  seed: number;
  tokens: number;
  sampledBy?: SampledBy;
}

export interface OriginView extends TemporalOrigin {
  stage: StageName;
  /** The workflow's history in the Temporal UI. */
  url?: string;
}

export interface AuditRecord {
  id: string;
  runId: string;
  step: number;
  promptId: string;
  pairId: string;
  problemId: string;
  mode: MetaExperienceDoc['mode'];
  question: { text: string; groundTruth: string } | null;
  correct: TrajectoryView | null;
  incorrect: (TrajectoryView & { bifurcation: BifurcationMark | null }) | null;
  generation: {
    seed: number;
    samplerPath: string;
    reflector?: string;
    sampledBy?: SampledBy;
    turns: { text: string; stopReason: 'stop' | 'length' }[];
    /** Why the engine could not give the reflection (docs/mel.md, "Bad items"). */
    failure?: Exclusion;
  };
  parse: { ok: true } | { ok: false; reason: string };
  bifurcationPoint: string | null;
  critique: string | null;
  reflectiveSummary: string | null;
  heuristics: string[];
  leakage: MetaExperienceDoc['leakage'] | null;
  /** The first replay (replay 0). */
  validation: SampledReplay | null;
  /** Every replay in order, the first included; empty when it was not replayed. */
  replays: SampledReplay[];
  decision: MetaExperienceDoc['verdict'] | null;
  internalization:
    | (NonNullable<MetaExperienceDoc['internalization']> & {
        stepGrpoLoss: number | null;
        stepNllLoss: number | null;
        policyUpdatesAfter: number | null;
        policyStatePath: string | null;
      })
    | null;
  temporal: OriginView[];
}

export function assembleAudit(evidence: AuditEvidence, links: TemporalLinks): AuditRecord {
  const me = evidence.metaExperience;
  const parsed = me.parse.ok ? me.parse.metaExperience : null;
  const replays = replaysOf(me).map((replay, i) => ({
    ...replay,
    tokens: decodeTokens(replay.tokens, `metaExperiences ${me._id} replay ${i} tokens`),
  }));
  const correct = evidence.positive && trajectoryView(evidence.positive, evidence.positiveReward);
  const incorrect = evidence.negative && trajectoryView(evidence.negative, evidence.negativeReward);
  return {
    id: me._id,
    runId: me.runId,
    step: me.step,
    promptId: me.promptId,
    pairId: me.pairId,
    problemId: me.problemId,
    mode: me.mode,
    question: evidence.prompt && {
      text: evidence.prompt.problem.question,
      groundTruth: evidence.prompt.problem.answer,
    },
    correct,
    incorrect: incorrect && {
      ...incorrect,
      bifurcation: locateBifurcation(incorrect.text, correct?.text ?? null, parsed?.bifurcationPoint ?? null),
    },
    generation: {
      seed: me.generation.seed,
      samplerPath: me.generation.samplerPath,
      ...(me.generation.reflector ? { reflector: me.generation.reflector } : {}),
      ...(me.generation.sampledBy ? { sampledBy: me.generation.sampledBy } : {}),
      turns: me.generation.turns.map(({ text, stopReason }) => ({ text, stopReason })),
      ...(me.generation.failure ? { failure: me.generation.failure } : {}),
    },
    parse: me.parse.ok ? { ok: true } : { ok: false, reason: me.parse.reason },
    bifurcationPoint: parsed?.bifurcationPoint ?? null,
    critique: parsed?.critique ?? null,
    reflectiveSummary: parsed?.reflectiveSummary || null,
    heuristics: parsed?.heuristics ?? [],
    leakage: me.leakage ?? null,
    validation: replays[0] ?? null,
    replays,
    decision: me.verdict ?? null,
    internalization: me.internalization
      ? {
          ...me.internalization,
          stepGrpoLoss: evidence.step?.update?.grpoLoss ?? null,
          stepNllLoss: evidence.step?.update?.nllLoss ?? null,
          policyUpdatesAfter: evidence.step?.update?.policyAfter.updates ?? null,
          policyStatePath: evidence.step?.update?.policyAfter.statePath ?? null,
        }
      : null,
    temporal: origins(evidence).map((origin) => ({ ...origin, url: historyUrl(links, origin) })),
  };
}

function trajectoryView(doc: TrajectoryDoc, reward: RewardDoc | null): TrajectoryView {
  return {
    id: doc._id,
    text: doc.text,
    reward: reward?.reward ?? null,
    extractedAnswer: reward?.extractedAnswer ?? null,
    extractionMethod: reward?.extractionMethod ?? null,
    stopReason: doc.stopReason,
    seed: doc.seed,
    tokens: decodeTokens(doc.tokens, `trajectories ${doc._id} tokens`).length,
    ...(doc.sampledBy ? { sampledBy: doc.sampledBy } : {}),
  };
}

/** Every stage that touched this meta-experience, in pipeline order, with the activity that did it. */
function origins(evidence: AuditEvidence): (TemporalOrigin & { stage: StageName })[] {
  const me = evidence.metaExperience;
  const byStage: [StageName, TemporalOrigin | undefined][] = [
    ['rollout', evidence.negative?.origin],
    ['verify', evidence.negativeReward?.origin],
    ['contrast', evidence.pair?.origin],
    ['summarize', me.origin.summarize],
    ['validate', me.origin.validate],
    ['internalize', me.origin.internalize],
    ['policy-update', me.internalization ? evidence.step?.update?.origin : undefined],
  ];
  return byStage.flatMap(([stage, origin]) => (origin ? [{ stage, ...origin }] : []));
}

const MIN_QUOTE_LENGTH = 4;

/**
 * Finds s* in the incorrect solution. The critique usually quotes the faulty step ("…", `…`); the longest quote
 * found verbatim (ignoring case) is marked. Failing that, the mark is where the two solutions first differ.
 */
export function locateBifurcation(
  incorrect: string,
  correct: string | null,
  statedPoint: string | null,
): BifurcationMark | null {
  const haystack = incorrect.toLowerCase();
  const quoted = statedPoint ? quotedSpans(statedPoint) : [];
  const found = quoted
    .filter((quote) => quote.length >= MIN_QUOTE_LENGTH)
    .sort((a, b) => b.length - a.length)
    .map((quote) => ({ quote, at: haystack.indexOf(quote.toLowerCase()) }))
    .find(({ at }) => at >= 0);
  if (found) return { start: found.at, end: found.at + found.quote.length, method: 'quoted-by-critique' };
  if (correct === null) return null;
  const at = firstDifference(incorrect, correct);
  return at === null ? null : { start: at, end: at, method: 'first-divergence' };
}

/** Quoted parts of `text`, and the whole text itself (a critique may copy the step without quotes). */
export function quotedSpans(text: string): string[] {
  const spans = [...text.matchAll(/"([^"]+)"|“([^”]+)”|`([^`]+)`|'([^']{4,})'/g)].map((match) =>
    (match[1] ?? match[2] ?? match[3] ?? match[4] ?? '').trim(),
  );
  return [...spans, text.trim()].filter(Boolean);
}

function firstDifference(a: string, b: string): number | null {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? null : length;
}
