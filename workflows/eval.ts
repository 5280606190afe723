import {
  ApplicationFailure,
  CancellationScope,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { NON_RETRYABLE } from '../common/error-types.js';
import { MelPhase, MelRunId } from '../temporal/contracts/common.js';
import {
  DEFAULT_EVAL_FAN_OUT,
  evalProgressQuery,
  type EvalChunk,
  type EvalInput,
  type EvalPhase,
  type EvalProgress,
  type EvalResult,
} from '../temporal/contracts/eval.js';
import { mapLimited } from '../common/map-limited.js';
import { cpu, gpuInference, gpuTraining } from './activity-options.js';
import { workflowChunks } from './chunks.js';

/**
 * `mel eval`: Pass@1, Avg@k and Pass@k of a saved policy on a held-out data file. The problems are loaded into
 * MongoDB, the policy is restored into a fresh engine model, and chunks of problems are sampled (GPU inference)
 * and scored (CPU); the metrics are computed from the stored scores. An eval that has completed returns its stored
 * result at once, so starting the same eval id again never samples or records anything twice.
 */
export async function melEvalWorkflow(input: EvalInput): Promise<EvalResult> {
  const { evalId } = input;
  const { workflowId, runId: workflowRunId } = workflowInfo();
  const progress: EvalProgress = {
    evalId,
    phase: 'preparing',
    problems: 0,
    problemsSampled: 0,
    problemsScored: 0,
  };
  setHandler(evalProgressQuery, () => progress);
  const enter = (phase: EvalPhase) => {
    progress.phase = phase;
    upsertSearchAttributes([{ key: MelPhase, value: phase }]);
  };
  upsertSearchAttributes([{ key: MelRunId, value: input.target.runId }]);
  enter('preparing');

  const prepared = await cpu.prepareEval({ ...input, workflowId });
  progress.problems = prepared.problems;
  if (prepared.stored) {
    progress.problemsSampled = progress.problemsScored = prepared.problems;
    enter('completed');
    return prepared.stored;
  }

  const { problemsPerChunk, chunksInFlight } = { ...DEFAULT_EVAL_FAN_OUT, ...input.fanOut };
  const chunks = evalChunks(evalId, prepared.problems, problemsPerChunk);
  if (!Number.isInteger(chunksInFlight) || chunksInFlight < 1) {
    throw ApplicationFailure.nonRetryable(
      `fanOut.chunksInFlight: a positive integer, not ${chunksInFlight}`,
      NON_RETRYABLE.invalidInput,
    );
  }
  enter('sampling');
  const policy = await gpuTraining.restorePolicy({ policy: input.target.policy, name: evalId });
  try {
    await mapLimited(chunks, chunksInFlight, async (chunk) => {
      await gpuInference.sampleEvalChunk({ ...chunk, policy });
      progress.problemsSampled += chunk.count;
      await cpu.scoreEvalChunk(chunk);
      progress.problemsScored += chunk.count;
    });
  } finally {
    // Also when the eval fails or is cancelled: the restored copy's engine slot is freed.
    await CancellationScope.nonCancellable(() => gpuTraining.releasePolicy({ policy }));
  }

  enter('finishing');
  const result = await cpu.finishEval({ evalId, workflowRunId });
  enter('completed');
  return result;
}

/**
 * The eval's problems in chunks of `perChunk`, as the step splits its stages (at most MAX_CHUNKS_PER_STAGE, chunks
 * growing beyond); histories recorded before split into chunks of exactly `perChunk`.
 */
function evalChunks(evalId: string, problems: number, perChunk: number): EvalChunk[] {
  if (!patched('eval-fan-out')) {
    const chunks: EvalChunk[] = [];
    for (let first = 0; first < problems; first += perChunk) {
      chunks.push({ evalId, first, count: Math.min(perChunk, problems - first) });
    }
    return chunks;
  }
  return workflowChunks(problems, perChunk).map(({ start, end }) => ({
    evalId,
    first: start,
    count: end - start,
  }));
}
