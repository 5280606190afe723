/**
 * Builds the step's training data: GRPO datums for the rollouts (group advantages, paper Eq. 10) and NLL datums
 * for the validated meta-experiences, conditioned on the exact analysis prompt (paper Eq. 7). The policy update
 * trains on them in one optimizer step.
 */
import {
  chainedNllExample,
  chunkAdvantageConfig,
  grpoBatchPart,
  nllDatums,
  rolloutDatums,
  sampleAdvantages,
  singleCallNllExample,
  UNIT_BATCH,
  type GrpoLossAggregation,
  type NllExample,
  type RolloutBatch,
} from '../mel/index.js';
import type { ItemRange } from '../mel/fan-out.js';
import {
  ids,
  promptIdsIn,
  stepScope,
  type DatumDoc,
  type MetaExperienceDoc,
  type SampledBy,
  type TemporalOrigin,
} from '../store/documents.js';
import { melCollections } from '../store/collections.js';
import { encodeDatum } from '../store/datum-codec.js';
import { chunks } from '../common/chunks.js';
import { onePage } from '../common/pages.js';
import { PROMPTS_PER_DATUM_PAGE, stepReads, type AnswerToTrain } from '../store/step-reads.js';
import { turnTokens } from '../store/token-codec.js';
import { writeChunkDatums, writeStepDatums } from '../store/writes.js';
import type { InternalizeRef, InternalizeSummary } from '../temporal/contracts/run.js';
import { loadRun, origin, type LoadedRun, type MelActivityDeps } from './support.js';

export function createInternalizeActivities({ db }: MelActivityDeps) {
  const { metaExperiences, datums, grpoBatches, steps } = melCollections(db);
  const reads = stepReads(db);

  /**
   * With `items`, the GRPO datums of those prompts: they depend only on rollout and verify, so the step builds each
   * chunk's as soon as it is verified. Otherwise the step's datums of one kind (`datums`), or of both when absent:
   * the NLL datums, which need the verdicts, and the GRPO datums of histories recorded before, built and written a
   * few prompts at a time so that a paper-scale step is never in memory at once.
   */
  async function internalize({
    runId,
    step,
    datums: kind,
    items,
  }: InternalizeRef): Promise<InternalizeSummary> {
    const run = await loadRun(db, runId);
    const source = origin();
    if (items) return { grpoDatums: await grpoChunk(run, step, items, source), nllDatums: 0 };
    const nll = kind === 'grpo' ? [] : await nllDocs(run, step, source);
    const grpo = kind === 'nll' ? [] : [grpoPages(run, step, source)];
    const written = await writeStepDatums({ datums, steps }, { runId, step, ...(kind ? { kind } : {}) }, [
      ...grpo,
      onePage(nll),
    ]);
    // The candidates internalized, not all of the step's: on FerretDB an update reads and rewrites whole documents.
    if (nll.length > 0) {
      await metaExperiences.updateMany(
        { _id: { $in: nll.map((doc) => doc.sourceId) } },
        { $set: { 'origin.internalize': source } },
      );
    }
    return { grpoDatums: written.grpo, nllDatums: written.nll };
  }

  /** GRPO datums for the step's rollouts, with their group advantages (Eq. 10), a few prompts' at a time. */
  async function* grpoPages(run: LoadedRun, step: number, source: TemporalOrigin): AsyncIterable<DatumDoc[]> {
    const { runId } = run.config;
    const { grpoAggregation } = run.config.mel.loss;
    const promptTokens = await reads.promptTokens(runId, step);
    const trained = sampleAdvantages(await reads.rewards(runId, step), run.config.mel.advantage).map(
      ({ sample, advantage }, index) => ({ sample, advantage, index }),
    );
    const pages = chunks([...groupBy(trained, (t) => t.sample.promptId).values()], PROMPTS_PER_DATUM_PAGE);
    /** A page's trained rollouts with their answers. */
    const withAnswers = async (page: (typeof pages)[number]) => {
      const answers = await reads.answersToTrainOf(page.map((group) => group[0]!.sample.promptId));
      const byId = new Map(answers.map((answer) => [answer._id, answer]));
      return page.flat().map((t) => ({ ...t, trajectory: byId.get(t.sample._id)! }));
    };
    // Eq. 10's 1/G average is over the step's usable rollouts (excluded ones count nowhere); zero-advantage
    // rollouts add nothing to the gradient and are not sent, but still count in it. Only a token mean over the
    // batch needs the step's completion tokens, counted in a first pass.
    let completionTokens = Number.NaN;
    if (grpoAggregation === 'token-mean') {
      completionTokens = 0;
      for (const page of pages) {
        for (const { trajectory } of await withAnswers(page)) completionTokens += trajectory.tokens.length;
      }
    }
    const batch = { rollouts: trained.length, completionTokens };
    for (const page of pages) {
      yield grpoDatumDocs(
        { runId, step, source, promptTokens },
        await withAnswers(page),
        grpoAggregation,
        batch,
      );
    }
  }

  /**
   * The GRPO datums of the step's prompts in `items`, built as soon as the chunk is verified: each rollout's own
   * share of the GRPO term (UNIT_BATCH), and the chunk's part of the statistics the policy update scales them by
   * (mel/grpo-batch.ts). Indexed by prompt and sample, the step's order.
   */
  async function grpoChunk(run: LoadedRun, step: number, items: ItemRange, source: TemporalOrigin) {
    const { runId, groupSize } = run.config;
    const promptIds = promptIdsIn(runId, step, items);
    const [promptTokens, rewards, answers] = await Promise.all([
      reads.promptTokensOf(promptIds),
      reads.rewardsOf(promptIds),
      reads.answersToTrainOf(promptIds),
    ]);
    const promptIndex = new Map(promptIds.map((id, offset) => [id, items.start + offset]));
    const answerById = new Map(answers.map((answer) => [answer._id, answer]));
    const trained = sampleAdvantages(rewards, chunkAdvantageConfig(run.config.mel.advantage)).map(
      ({ sample, advantage }) => ({
        advantage,
        index: promptIndex.get(sample.promptId)! * groupSize + sample.sampleIndex,
        trajectory: answerById.get(sample._id)!,
      }),
    );
    const statistics = grpoBatchPart(
      trained.map(({ advantage, trajectory }) => ({
        group: trajectory.promptId,
        advantage,
        completionTokens: trajectory.tokens.length,
      })),
    );
    const docs = grpoDatumDocs(
      { runId, step, source, promptTokens },
      trained,
      run.config.mel.loss.grpoAggregation,
      UNIT_BATCH,
    );
    return writeChunkDatums({ datums, grpoBatches }, { runId, step, items }, onePage(docs), statistics);
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

/**
 * The datums of `trained` rollouts, normalised by `batch`: those with a zero advantage (or no completion) add
 * nothing to the gradient and are not sent.
 */
function grpoDatumDocs(
  {
    runId,
    step,
    source,
    promptTokens,
  }: { runId: string; step: number; source: TemporalOrigin; promptTokens: Map<string, number[]> },
  trained: readonly { trajectory: AnswerToTrain; advantage: number; index: number }[],
  aggregation: GrpoLossAggregation,
  batch: RolloutBatch,
): DatumDoc[] {
  const informative = trained.filter((t) => t.advantage !== 0 && t.trajectory.tokens.length > 0);
  const grpo = rolloutDatums(
    informative.map(({ trajectory, advantage }) => ({
      promptTokens: promptTokens.get(trajectory.promptId)!,
      completionTokens: trajectory.tokens,
      completionLogprobs: trajectory.logprobs,
      advantage,
    })),
    aggregation,
    batch,
  );
  return grpo.map((datum, i) => {
    const { trajectory, advantage, index } = informative[i]!;
    return {
      _id: ids.datum(runId, step, 'grpo', trajectory._id),
      runId,
      step,
      kind: 'grpo' as const,
      sourceId: trajectory._id,
      index,
      datum: encodeDatum(datum),
      advantage,
      ...recorded(trajectory.sampledBy),
      origin: source,
    };
  });
}

/** The sample's engine and policy, on the datum that trains on it, where the sample has them. */
function recorded(sampledBy: SampledBy | undefined): Pick<DatumDoc, 'sampledBy'> {
  return sampledBy ? { sampledBy } : {};
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
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
