/**
 * What the step's stages read from the store, each with only the fields its stage uses. Every filter names the
 * `_id` range of the step's (or the prompt's) documents beside its equalities: MongoDB answers it from an index,
 * FerretDB v1 on PostgreSQL from the `_id` index (stack/ferretdb-fix.ts), so the cost of a read follows the
 * step's documents, not the collection's (docs/architecture.md, "What the store pushes down"). `bench/store.ts`
 * times exactly these reads.
 */
import type { Collection, Db, Filter } from 'mongodb';
import { melCollections } from './collections.js';
import { chunks } from '../common/chunks.js';
import { onePage, readAhead, type Paged } from '../common/pages.js';
import type { ItemRange } from '../mel/fan-out.js';
import { combineGrpoBatch, type GrpoBatchPart } from '../mel/grpo-batch.js';
import {
  ids,
  idsUnder,
  stepScope,
  type DatumDoc,
  type MetaExperienceDoc,
  type PairDoc,
  type PromptDoc,
  type RewardDoc,
  type TrajectoryDoc,
} from './documents.js';
import { decodeLogprobs, decodeTokens } from './token-codec.js';

/** A trajectory as verify scores it: everything but its tokens and logprobs. */
export type AnswerToScore = Omit<TrajectoryDoc, 'tokens' | 'logprobs'>;
/** A trajectory as the policy update trains on it, with the engine and policy that sampled it where recorded. */
export interface AnswerToTrain {
  _id: string;
  promptId: string;
  tokens: number[];
  logprobs: number[];
  sampledBy?: TrajectoryDoc['sampledBy'];
}

export type StoredSample = Pick<TrajectoryDoc, '_id' | 'promptId' | 'stopReason'>;

const SAMPLE_KEYS = { promptId: 1, stopReason: 1 } as const;
const NO_TOKENS = { tokens: 0, logprobs: 0 } as const;
const PROBLEM = { problem: 1 } as const;
const TRAINING_FIELDS = { promptId: 1, tokens: 1, logprobs: 1, sampledBy: 1 } as const;

export function stepReads(db: Db) {
  const { prompts, trajectories, rewards, pairs, metaExperiences, datums, grpoBatches, steps } =
    melCollections(db);
  /** The chunk `items` of the step's pairs in id order, or all of them: small documents, read step-wide. */
  const pairsOf = (runId: string, step: number, items?: ItemRange): Promise<PairDoc[]> => {
    const cursor = pairs.find(stepScope(runId, step)).sort({ _id: 1 });
    return (items ? cursor.skip(items.start).limit(items.end - items.start) : cursor).toArray();
  };
  /** The documents of the given prompts in a per-prompt collection, one read each by the prompt's indexed id range. */
  const ofPrompts = async <T extends { promptId: string }>(
    collection: Collection<T>,
    promptIds: readonly string[],
    projection?: Record<string, 0 | 1>,
  ) =>
    (
      await Promise.all(
        promptIds.map((promptId) =>
          collection.find({ promptId, _id: idsUnder(promptId) } as Filter<T>, { projection }).toArray(),
        ),
      )
    ).flat();
  return {
    pairsOf,
    /** The step's stored samples, without their content: an unchunked rollout's resumption and summary. */
    storedSamples: (runId: string, step: number) =>
      trajectories.find(stepScope(runId, step), { projection: SAMPLE_KEYS }).toArray() as Promise<
        StoredSample[]
      >,
    /**
     * The stored samples of the given prompts (a chunk's), without their content: a rollout chunk's resumption and
     * summary. Per prompt, not per step: FerretDB v1 applies a projection after reading whole documents, so a
     * step-wide read in every chunk would read the step's trajectories once per chunk.
     */
    storedSamplesOf: (promptIds: readonly string[]) =>
      ofPrompts(trajectories, promptIds, SAMPLE_KEYS) as Promise<StoredSample[]>,
    problems: async (runId: string, step: number) =>
      problemById(await prompts.find(stepScope(runId, step), { projection: PROBLEM }).toArray()),
    /** The problems of the given prompts (a chunk's), by the indexed `_id`. */
    problemsOf: async (promptIds: readonly string[]) =>
      problemById(await prompts.find({ _id: { $in: [...promptIds] } }, { projection: PROBLEM }).toArray()),
    promptTokens: async (runId: string, step: number) =>
      promptTokensById(
        await prompts.find(stepScope(runId, step), { projection: { promptTokens: 1 } }).toArray(),
      ),
    /** The prompt tokens of the given prompts (a chunk's), by the indexed `_id`. */
    promptTokensOf: async (promptIds: readonly string[]) =>
      promptTokensById(
        await prompts.find({ _id: { $in: [...promptIds] } }, { projection: { promptTokens: 1 } }).toArray(),
      ),
    rewards: (runId: string, step: number): Promise<RewardDoc[]> =>
      rewards.find(stepScope(runId, step)).toArray(),
    /** The rewards of the given prompts (a chunk's). */
    rewardsOf: (promptIds: readonly string[]): Promise<RewardDoc[]> => ofPrompts(rewards, promptIds),
    answersToScore: (runId: string, step: number) =>
      trajectories.find(stepScope(runId, step), { projection: NO_TOKENS }).toArray() as Promise<
        AnswerToScore[]
      >,
    /** The answers of the given prompts (a chunk of the step's), one read each by the prompt's indexed id. */
    answersToScoreOf: (promptIds: readonly string[]) =>
      ofPrompts(trajectories, promptIds, NO_TOKENS) as Promise<AnswerToScore[]>,
    /** The answers of the given prompts (a page of internalize's), with their tokens and logprobs. */
    answersToTrainOf: async (promptIds: readonly string[]): Promise<AnswerToTrain[]> =>
      (
        (await ofPrompts(trajectories, promptIds, TRAINING_FIELDS)) as Pick<
          TrajectoryDoc,
          '_id' | 'promptId' | 'tokens' | 'logprobs' | 'sampledBy'
        >[]
      ).map((t) => ({
        _id: t._id,
        promptId: t.promptId,
        tokens: decodeTokens(t.tokens, `trajectories ${t._id} tokens`),
        logprobs: decodeLogprobs(t.logprobs, `trajectories ${t._id} logprobs`),
        ...(t.sampledBy ? { sampledBy: t.sampledBy } : {}),
      })),
    /**
     * The step's GRPO datums for the policy update, a few prompts' at a time (in prompt order, each prompt's in
     * datum order), the next page read while the caller uses the current one; `count` is the step's number as
     * internalize recorded it, and `batch` the statistics of a step built a prompt chunk at a time, whose datums
     * still need the step's factor (mel/grpo-batch.ts). A step internalized before counts were recorded is read in
     * one page.
     */
    grpoDatumPages: async (
      runId: string,
      step: number,
    ): Promise<Paged<DatumDoc> & { batch?: GrpoBatchPart }> => {
      const [stepDoc, parts] = await Promise.all([
        steps.findOne({ _id: ids.step(runId, step) }),
        grpoBatches.find(stepScope(runId, step)).toArray(),
      ]);
      const batch = parts.length > 0 ? combineGrpoBatch(parts) : undefined;
      const count = batch ? batch.datums : stepDoc?.datums?.grpo;
      if (count === undefined) {
        const all = await datums
          .find({ ...stepScope(runId, step), kind: 'grpo' })
          .sort({ index: 1 })
          .toArray();
        return { count: all.length, pages: onePage(all) };
      }
      const promptIds = (
        await prompts.find(stepScope(runId, step), { projection: { promptIndex: 1 } }).toArray()
      )
        .sort((a, b) => a.promptIndex - b.promptIndex)
        .map((prompt) => prompt._id);
      const readPage = (page: string[]) => async () =>
        (
          await Promise.all(
            page.map((promptId) =>
              datums
                .find({ kind: 'grpo', _id: idsUnder(ids.datum(runId, step, 'grpo', promptId)) })
                .toArray(),
            ),
          )
        )
          .flat()
          .sort((a, b) => a.index - b.index);
      const pages = readAhead(chunks(promptIds, PROMPTS_PER_DATUM_PAGE).map(readPage));
      return { count, pages, ...(batch ? { batch } : {}) };
    },
    /**
     * The candidates of the chunk `items` of the step's pairs (in id order; each pair has one candidate, written by
     * summarize), or all of the step's. The chunk's pair ids come from the small pair documents; its candidates,
     * thousands of tokens each, are then read by their indexed ids: a step-wide read sorted in FerretDB's memory in
     * every chunk would read all of the step's candidates once per chunk.
     */
    candidatesOf: async (runId: string, step: number, items?: ItemRange): Promise<MetaExperienceDoc[]> => {
      if (!items) return metaExperiences.find(stepScope(runId, step)).sort({ _id: 1 }).toArray();
      const wanted = (await pairsOf(runId, step, items)).map((pair) => ids.metaExperience(pair._id));
      const found = new Map(
        (await metaExperiences.find({ _id: { $in: wanted } }).toArray()).map((doc) => [doc._id, doc]),
      );
      return wanted.flatMap((id) => found.get(id) ?? []);
    },
  };
}

export type StepReads = ReturnType<typeof stepReads>;

/**
 * Prompts per page of GRPO datums, as internalize writes them and the policy update reads them: at 8 samples of 4k
 * tokens, about 8 MB of datums a page.
 */
export const PROMPTS_PER_DATUM_PAGE = 8;

function promptTokensById(docs: Pick<PromptDoc, '_id' | 'promptTokens'>[]): Map<string, number[]> {
  return new Map(docs.map((p) => [p._id, decodeTokens(p.promptTokens, `prompts ${p._id} promptTokens`)]));
}

function problemById(docs: Pick<PromptDoc, '_id' | 'problem'>[]): Map<string, PromptDoc['problem']> {
  return new Map(docs.map((p) => [p._id, p.problem]));
}
