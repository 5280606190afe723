import { CancellationScope, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { MelPhase, MelRunId } from '../temporal/contracts/common.js';
import {
  EVAL_CHUNK_PROBLEMS,
  evalProgressQuery,
  type EvalChunk,
  type EvalInput,
  type EvalPhase,
  type EvalProgress,
  type EvalResult,
} from '../temporal/contracts/eval.js';
import { mapLimited } from '../common/map-limited.js';
import { cpu, gpuInference, gpuTraining } from './activity-options.js';

/** Chunks sampled at once: one per default GPU-inference worker slot. */
const CHUNKS_IN_FLIGHT = 2;

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

  enter('sampling');
  const policy = await gpuTraining.restorePolicy({ policy: input.target.policy, name: evalId });
  try {
    const chunks: EvalChunk[] = [];
    for (let first = 0; first < prepared.problems; first += EVAL_CHUNK_PROBLEMS) {
      chunks.push({ evalId, first, count: Math.min(EVAL_CHUNK_PROBLEMS, prepared.problems - first) });
    }
    await mapLimited(chunks, CHUNKS_IN_FLIGHT, async (chunk) => {
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
