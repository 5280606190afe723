import { log } from '@temporalio/activity';
import {
  completionText,
  renderGenerationPrompt,
  rolloutMessages,
  summariseRewards,
  verificationRecord,
  type Exclusion,
  type Problem,
} from '../mel/index.js';
import type { RunConfig } from '../mel/run-config.js';
import {
  ids,
  idsUnder,
  promptIdsIn,
  stepScope,
  type ExclusionDoc,
  type RewardDoc,
  type TemporalOrigin,
  type TrajectoryDoc,
} from '../store/documents.js';
import { melCollections } from '../store/collections.js';
import { stepReads } from '../store/step-reads.js';
import { encodeLogprobs, encodeTokens } from '../store/token-codec.js';
import { insertAbsent, replaceAll, upsertAll } from '../store/writes.js';
import type { PolicyRef } from '../temporal/contracts/common.js';
import type {
  RolloutSummary,
  SamplingChunkRef,
  StepChunkRef,
  VerifySummary,
} from '../temporal/contracts/run.js';
import { problemsForStep, samplingSeed } from '../mel/schedule.js';
import { describeCounts } from '../mel/fan-out.js';
import { loadRun, mapWithProgress, origin, type MelActivityDeps } from './support.js';
import { sampleItem } from './isolation.js';
import { sampledBy } from './sample-provenance.js';

const PROMPTS_IN_FLIGHT = 4;

/** One prompt of a step: the item a rollout samples a group for. */
interface PromptItem {
  runId: string;
  step: number;
  promptIndex: number;
  problem: Problem;
}

export function createRolloutActivities(deps: MelActivityDeps) {
  const { db, tokenizer } = deps;
  const { prompts, trajectories, rewards, exclusions } = melCollections(db);
  const reads = stepReads(db);

  /**
   * Samples G answers for each prompt of the step in `items` (all prompts when absent), all of a chunk's prompts at
   * once; resumes by skipping prompts whose group is stored whole. An unusable prompt or sample is recorded in
   * `exclusions` and left out (docs/mel.md, "Bad items").
   */
  async function rollout({ runId, step, policy, items }: SamplingChunkRef): Promise<RolloutSummary> {
    const run = await loadRun(db, runId);
    const { groupSize, batchSize, seed } = run.config;
    const problems = problemsForStep(run.problems, seed, step, batchSize);
    const { start, end } = items ?? { start: 0, end: problems.length };
    const chunk = problems.slice(start, end);
    const inFlight = items ? chunk.length : PROMPTS_IN_FLIGHT;
    const promptIds = items && promptIdsIn(runId, step, items);
    const storedBefore = sampleIdsByPrompt(
      await (promptIds ? reads.storedSamplesOf(promptIds) : reads.storedSamples(runId, step)),
    );
    await mapWithProgress('rollout', chunk, inFlight, async (problem, offset) => {
      const promptIndex = start + offset;
      const stored = storedBefore.get(ids.prompt(runId, step, promptIndex)) ?? [];
      if (stored.length !== groupSize) {
        await sampleGroup(run.config, policy, { runId, step, promptIndex, problem }, stored);
      }
    });
    if (!promptIds) return rolloutSummary(runId, step, problems.length);
    return chunkSummary(runId, step, promptIds);
  }

  /**
   * Samples one prompt's group; stores the usable trajectories not yet stored, and exclusions for what is still
   * missing (`storedBefore`: the ids of its samples stored by earlier attempts).
   */
  async function sampleGroup(
    config: RunConfig,
    policy: PolicyRef,
    item: PromptItem,
    storedBefore: readonly string[],
  ) {
    const { runId, step, promptIndex, problem } = item;
    const promptId = ids.prompt(runId, step, promptIndex);
    const source = origin();
    const promptTokens = await storePrompt(item, promptId, source);
    const seed = samplingSeed(config.seed, step, 'rollout', String(promptIndex));
    const { temperature, maxTokens } = config.sampling.rollout;
    const request = { promptTokens, numSamples: config.groupSize, maxTokens, temperature, seed };
    const outcome = await sampleItem(deps, policy, request, { needLogprobs: true });
    const { usable, excluded } = outcome.ok
      ? outcome.value.screened
      : { usable: [], excluded: [outcome.exclusion] };
    if (excluded.length > 0) log.warn('rollout items excluded', { promptId, excluded });

    const stored = { runId, step, promptId, origin: source };
    const exclusionDocs = excluded.map((why: Exclusion & { sampleIndex?: number }): ExclusionDoc => ({
      _id: why.sampleIndex === undefined ? promptId : ids.trajectory(promptId, why.sampleIndex),
      stage: 'rollout',
      ...stored,
      ...why,
    }));
    const samplerPath = outcome.ok ? outcome.value.samplerPath : '';
    const trajectoryDocs = usable.map(({ sampleIndex, sample }): TrajectoryDoc => ({
      _id: ids.trajectory(promptId, sampleIndex),
      ...stored,
      problemId: problem.id,
      sampleIndex,
      seed,
      tokens: encodeTokens(sample.tokens),
      logprobs: encodeLogprobs(sample.logprobs),
      text: completionText(tokenizer, sample.tokens, [tokenizer.eosTokenId]),
      stopReason: sample.stopReason,
      samplerPath,
      sampledBy: sampledBy(deps.engineId, policy),
    }));
    // Trajectories are write-once: a retry adds what its earlier attempt could not use, and a stale attempt's late
    // write changes none that verify may have scored. Exclusions then name only what is still missing.
    // After it, each of them is stored: inserted now or by an earlier attempt.
    await insertAbsent(trajectories, trajectoryDocs);
    const kept = new Set([...storedBefore, ...trajectoryDocs.map((doc) => doc._id)]);
    const stillMissing = (doc: ExclusionDoc) =>
      !kept.has(doc._id) && !(doc._id === promptId && kept.size > 0);
    await replaceAll(exclusions, { promptId, _id: idsUnder(promptId) }, exclusionDocs.filter(stillMissing));
  }

  async function storePrompt(item: PromptItem, promptId: string, source: TemporalOrigin): Promise<number[]> {
    const promptText = renderGenerationPrompt(rolloutMessages(item.problem));
    const promptTokens = tokenizer.encode(promptText);
    const { runId, step, promptIndex, problem } = item;
    await upsertAll(prompts, [
      {
        _id: promptId,
        runId,
        step,
        promptIndex,
        problem,
        promptText,
        promptTokens: encodeTokens(promptTokens),
        origin: source,
      },
    ]);
    return promptTokens;
  }

  /** What a chunk's rollouts left stored; whether any of the step's is usable is the step workflow's check. */
  async function chunkSummary(runId: string, step: number, promptIds: string[]): Promise<RolloutSummary> {
    // The exclusions by step, then by prompt here: they are few and small.
    const inChunk = (doc: { promptId: string }) => promptIds.includes(doc.promptId);
    const [usable, stepExcluded] = await Promise.all([
      reads.storedSamplesOf(promptIds),
      exclusions
        .find(
          { ...stepScope(runId, step), stage: 'rollout' },
          { projection: { promptId: 1, sampleIndex: 1, reason: 1 } },
        )
        .toArray(),
    ]);
    const excluded = stepExcluded.filter(inChunk);
    const excludedPrompts = excluded.filter((e) => e.sampleIndex === undefined).length;
    return {
      prompts: promptIds.length,
      trajectories: usable.length,
      truncated: usable.filter((t) => t.stopReason === 'length').length,
      excludedPrompts,
      excludedSamples: excluded.length - excludedPrompts,
      exclusionReasons: reasonCounts(excluded),
    };
  }

  /** What the step's rollouts left stored. None usable is the engine failing, not an item: that fails the stage. */
  async function rolloutSummary(runId: string, step: number, promptCount: number): Promise<RolloutSummary> {
    const [stored, excluded] = await Promise.all([
      reads.storedSamples(runId, step),
      exclusions.find({ ...stepScope(runId, step), stage: 'rollout' }).toArray(),
    ]);
    const usable = stored.length;
    const truncated = stored.filter((t) => t.stopReason === 'length').length;
    if (usable === 0) {
      throw new Error(
        `no rollout of step ${step} is usable (${describeCounts(reasonCounts(excluded))}): the engine fails them all`,
      );
    }
    const excludedPrompts = excluded.filter((e) => e.sampleIndex === undefined).length;
    return {
      prompts: promptCount,
      trajectories: usable,
      truncated,
      excludedPrompts,
      excludedSamples: excluded.length - excludedPrompts,
    };
  }

  /**
   * Scores every trajectory of the step's prompts in `items` (all prompts when absent) 0/1 against its ground truth
   * (paper Eq. 1). A reward once stored stands (a retry scores only the rest), so contrast and internalize see the
   * rewards the summary reports.
   */
  async function verify({ runId, step, items }: StepChunkRef): Promise<VerifySummary> {
    const run = await loadRun(db, runId);
    const promptIds = items && promptIdsIn(runId, step, items);
    const problemByPrompt = await (promptIds ? reads.problemsOf(promptIds) : reads.problems(runId, step));
    const storedRewards = () => (promptIds ? reads.rewardsOf(promptIds) : reads.rewards(runId, step));
    const scoredIds = new Set((await storedRewards()).map((reward) => reward._id));
    const answers = promptIds ? reads.answersToScoreOf(promptIds) : reads.answersToScore(runId, step);
    const unscored = (await answers).filter((t) => !scoredIds.has(t._id));
    const source = origin();
    // All at once: the verifier pool queues them for its threads.
    const scored: RewardDoc[] = await mapWithProgress(
      'verify',
      unscored,
      unscored.length,
      async (trajectory) => {
        const problem = problemByPrompt.get(trajectory.promptId);
        if (!problem) throw new Error(`trajectory ${trajectory._id} has no prompt document`);
        const { correct, ...record } = await verificationRecord(
          trajectory.text,
          problem.answer,
          deps.compareSymbolically,
          run.config.mel.verifier,
        );
        const { _id, promptId, sampleIndex } = trajectory;
        const reward = correct ? 1 : 0;
        return { _id, runId, step, promptId, sampleIndex, reward, ...record, origin: source };
      },
    );
    await insertAbsent(rewards, scored);
    return summariseRewards(await storedRewards());
  }

  return { rollout, verify };
}

/** How many of `excluded` each reason accounts for. */
function reasonCounts(excluded: readonly Pick<ExclusionDoc, 'reason'>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { reason } of excluded) counts[reason] = (counts[reason] ?? 0) + 1;
  return counts;
}

function sampleIdsByPrompt(samples: readonly { _id: string; promptId: string }[]): Map<string, string[]> {
  const byPrompt = new Map<string, string[]>();
  for (const { _id, promptId } of samples) byPrompt.set(promptId, [...(byPrompt.get(promptId) ?? []), _id]);
  return byPrompt;
}
