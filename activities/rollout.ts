import {
  completionText,
  renderGenerationPrompt,
  rolloutMessages,
  summariseRewards,
  verificationRecord,
} from '../mel/index.js';
import { ids, type RewardDoc } from '../store/documents.js';
import { melCollections } from '../store/collections.js';
import { insertAbsent } from '../store/writes.js';
import type { PolicyStepRef, RolloutSummary, StepRef, VerifySummary } from '../temporal/contracts/run.js';
import { problemsForStep, samplingSeed } from '../mel/schedule.js';
import { loadRun, mapWithProgress, origin, type MelActivityDeps } from './support.js';
import { sampleWithPolicy } from './policy.js';

const PROMPTS_IN_FLIGHT = 4;

export function createRolloutActivities(deps: MelActivityDeps) {
  const { db, tokenizer } = deps;
  const { prompts, trajectories, rewards } = melCollections(db);

  /** Samples G answers for each prompt of the step; resumes by skipping prompts whose group is stored. */
  async function rollout({ runId, step, policy }: PolicyStepRef): Promise<RolloutSummary> {
    const run = await loadRun(db, runId);
    const { groupSize, batchSize, seed: runSeed } = run.config;
    const { temperature, maxTokens } = run.config.sampling.rollout;
    const problems = problemsForStep(run.problems, runSeed, step, batchSize);
    const truncatedPerPrompt = await mapWithProgress(
      'rollout',
      problems,
      PROMPTS_IN_FLIGHT,
      async (problem, promptIndex) => {
        const promptId = ids.prompt(runId, step, promptIndex);
        const stored = await trajectories.find({ promptId }).toArray();
        if (stored.length === groupSize) return stored.filter((t) => t.stopReason === 'length').length;
        const promptText = renderGenerationPrompt(rolloutMessages(problem));
        const promptTokens = tokenizer.encode(promptText);
        const source = origin();
        await prompts.replaceOne(
          { _id: promptId },
          { runId, step, promptIndex, problem, promptText, promptTokens, origin: source },
          { upsert: true },
        );
        const seed = samplingSeed(runSeed, step, 'rollout', String(promptIndex));
        const { sequences, samplerPath } = await sampleWithPolicy(deps, policy, {
          promptTokens,
          numSamples: groupSize,
          maxTokens,
          temperature,
          seed,
        });
        await insertAbsent(
          trajectories,
          sequences.map((sequence, sampleIndex) => ({
            _id: ids.trajectory(promptId, sampleIndex),
            runId,
            step,
            promptId,
            problemId: problem.id,
            sampleIndex,
            seed,
            tokens: sequence.tokens,
            logprobs: sequence.logprobs,
            text: completionText(tokenizer, sequence.tokens, [tokenizer.eosTokenId]),
            stopReason: sequence.stopReason,
            samplerPath,
            origin: source,
          })),
        );
        return sequences.filter((s) => s.stopReason === 'length').length;
      },
    );
    return {
      prompts: problems.length,
      trajectories: problems.length * groupSize,
      truncated: truncatedPerPrompt.reduce((a, b) => a + b, 0),
    };
  }

  /**
   * Scores every trajectory of the step 0/1 against its ground truth (paper Eq. 1). A reward once stored stands (a
   * retry scores only the rest), so contrast and internalize see the rewards the summary reports.
   */
  async function verify({ runId, step }: StepRef): Promise<VerifySummary> {
    const run = await loadRun(db, runId);
    const problemByPrompt = new Map(
      (await prompts.find({ runId, step }).toArray()).map((p) => [p._id, p.problem]),
    );
    const scoredIds = new Set(
      (await rewards.find({ runId, step }, { projection: { _id: 1 } }).toArray()).map((r) => r._id),
    );
    const answers = trajectories.find({ runId, step }, { projection: { tokens: 0, logprobs: 0 } });
    const unscored = (await answers.toArray()).filter((t) => !scoredIds.has(t._id));
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
    return summariseRewards(await rewards.find({ runId, step }).toArray());
  }

  return { rollout, verify };
}
