/**
 * Builds the step's training data: GRPO datums for the rollouts (group advantages, paper Eq. 10) and NLL datums
 * for the validated meta-experiences, conditioned on the exact analysis prompt (paper Eq. 7). The policy update
 * trains on them in one optimizer step.
 */
import {
  chainedNllExample,
  nllDatums,
  rolloutDatums,
  sampleAdvantages,
  singleCallNllExample,
  type NllExample,
} from '../mel/index.js';
import {
  ids,
  stepScope,
  type DatumDoc,
  type MetaExperienceDoc,
  type SampledBy,
  type TemporalOrigin,
} from '../store/documents.js';
import { melCollections } from '../store/collections.js';
import { encodeDatum } from '../store/datum-codec.js';
import { stepReads } from '../store/step-reads.js';
import { turnTokens } from '../store/token-codec.js';
import { writeStepDatums } from '../store/writes.js';
import type { InternalizeRef, InternalizeSummary } from '../temporal/contracts/run.js';
import { loadRun, origin, type LoadedRun, type MelActivityDeps } from './support.js';

export function createInternalizeActivities({ db }: MelActivityDeps) {
  const { metaExperiences, datums, steps } = melCollections(db);
  const reads = stepReads(db);

  /**
   * The step's datums of one kind (`datums`), or of both when absent. The GRPO datums depend only on rollout and
   * verify, so the step builds them while the reflection stages sample; the NLL datums need the verdicts.
   */
  async function internalize({ runId, step, datums: kind }: InternalizeRef): Promise<InternalizeSummary> {
    const run = await loadRun(db, runId);
    const source = origin();
    const grpo = kind === 'nll' ? [] : await grpoDocs(run, step, source);
    const nll = kind === 'grpo' ? [] : await nllDocs(run, step, source);
    await writeStepDatums({ datums, steps }, { runId, step, ...(kind ? { kind } : {}) }, [...grpo, ...nll]);
    if (kind !== 'grpo') {
      await metaExperiences.updateMany(stepScope(runId, step), { $set: { 'origin.internalize': source } });
    }
    return { grpoDatums: grpo.length, nllDatums: nll.length };
  }

  /** GRPO datums for the step's rollouts, with their group advantages (Eq. 10). */
  async function grpoDocs(run: LoadedRun, step: number, source: TemporalOrigin): Promise<DatumDoc[]> {
    const { runId } = run.config;
    const promptTokens = await reads.promptTokens(runId, step);
    const scored = await reads.rewards(runId, step);
    const byId = new Map((await reads.answersToTrain(runId, step)).map((t) => [t._id, t]));
    const trained = sampleAdvantages(scored, run.config.mel.advantage).map(({ sample, advantage }) => ({
      trajectory: byId.get(sample._id)!,
      advantage,
    }));
    // Eq. 10's 1/G average is over the step's usable rollouts (excluded ones count nowhere); zero-advantage
    // rollouts add nothing to the gradient and are not sent, but still count in it.
    const batch = {
      rollouts: trained.length,
      completionTokens: trained.reduce((sum, t) => sum + t.trajectory.tokens.length, 0),
    };
    const informative = trained.filter((t) => t.advantage !== 0 && t.trajectory.tokens.length > 0);
    const grpo = rolloutDatums(
      informative.map(({ trajectory, advantage }) => ({
        promptTokens: promptTokens.get(trajectory.promptId)!,
        completionTokens: trajectory.tokens,
        completionLogprobs: trajectory.logprobs,
        advantage,
      })),
      run.config.mel.loss.grpoAggregation,
      batch,
    );
    return grpo.map((datum, index) => ({
      _id: ids.datum(runId, step, 'grpo', informative[index]!.trajectory._id),
      runId,
      step,
      kind: 'grpo' as const,
      sourceId: informative[index]!.trajectory._id,
      index,
      datum: encodeDatum(datum),
      advantage: informative[index]!.advantage,
      ...recorded(informative[index]!.trajectory.sampledBy),
      origin: source,
    }));
  }

  /** NLL datums for the step's accepted meta-experiences, conditioned on the exact analysis prompt (Eq. 7). */
  async function nllDocs(run: LoadedRun, step: number, source: TemporalOrigin): Promise<DatumDoc[]> {
    const { runId } = run.config;
    const accepted = await metaExperiences
      .find({ ...stepScope(runId, step), 'verdict.accepted': true })
      .sort({ _id: 1 })
      .toArray();
    const { nllNormalisation, nllCoefficient } = run.config.mel.loss;
    const nll = nllDatums(accepted.map(nllExampleOf), nllNormalisation, nllCoefficient);
    return nll.map((datum, index) => ({
      _id: ids.datum(runId, step, 'nll', accepted[index]!._id),
      runId,
      step,
      kind: 'nll' as const,
      sourceId: accepted[index]!._id,
      index,
      datum: encodeDatum(datum),
      ...recorded(accepted[index]!.generation.sampledBy),
      origin: source,
    }));
  }

  return { internalize };
}

/** The sample's engine and policy, on the datum that trains on it, where the sample has them. */
function recorded(sampledBy: SampledBy | undefined): Pick<DatumDoc, 'sampledBy'> {
  return sampledBy ? { sampledBy } : {};
}

function nllExampleOf(doc: MetaExperienceDoc): NllExample {
  const turns = doc.generation.turns.map((turn, i) =>
    turnTokens(turn, `metaExperiences ${doc._id} turn ${i}`),
  );
  if (doc.mode === 'single-call') return singleCallNllExample(turns[0]!.promptTokens, turns[0]!.outputTokens);
  return chainedNllExample(
    turns.map((t) => t.promptTokens),
    turns.map((t) => t.outputTokens),
  );
}
