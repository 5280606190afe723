import { setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { MelPhase } from '../temporal/contracts/common.js';
import {
  stageQuery,
  type ContrastSummary,
  type StageName,
  type StepInput,
  type StepResult,
  type SummarizeSummary,
  type ValidateSummary,
} from '../temporal/contracts/run.js';
import { cpu, gpuInference, gpuTraining } from './activity-options.js';

interface Reflection {
  contrast: ContrastSummary;
  summarize: SummarizeSummary;
  validate: ValidateSummary;
}

/** What the GRPO baseline reports for the stages it skips. */
const NO_REFLECTION: Reflection = {
  contrast: { pairs: 0 },
  summarize: { candidates: 0, parsed: 0, leaking: 0 },
  validate: { accepted: 0, rejected: 0 },
};

/**
 * One MEL training step: rollout → verify → contrast → summarize → validate → internalize → policy update.
 * Each stage is an activity that reads its inputs from MongoDB and writes its outputs there; only ids and counts
 * pass through this workflow's history. In `grpo` mode the three reflection stages are skipped.
 */
export async function melStepWorkflow({ runId, step, policy, mode }: StepInput): Promise<StepResult> {
  let current: StageName | undefined;
  setHandler(stageQuery, () => current);
  const stageDurationsMs: Partial<Record<StageName, number>> = {};

  async function stage<T>(name: StageName, run: () => Promise<T>): Promise<T> {
    current = name;
    upsertSearchAttributes([{ key: MelPhase, value: name }]);
    const started = Date.now();
    const result = await run();
    stageDurationsMs[name] = Date.now() - started;
    return result;
  }

  const ref = { runId, step };
  const withPolicy = { ...ref, policy };
  const rollout = await stage('rollout', () => gpuInference.rollout(withPolicy));
  const verify = await stage('verify', () => cpu.verify(ref));
  const reflect = async (): Promise<Reflection> => ({
    contrast: await stage('contrast', () => cpu.contrast(ref)),
    summarize: await stage('summarize', () => gpuInference.summarize(withPolicy)),
    validate: await stage('validate', () => gpuInference.validate(withPolicy)),
  });
  const { contrast, summarize, validate } = mode === 'grpo' ? NO_REFLECTION : await reflect();
  const internalize = await stage('internalize', () => cpu.internalize(ref));
  const update = await stage('policy-update', () => gpuTraining.policyUpdate(withPolicy));
  current = undefined;
  upsertSearchAttributes([{ key: MelPhase, value: 'done' }]);

  const result: StepResult = {
    step,
    policy: update.policy,
    rollout,
    verify,
    contrast,
    summarize,
    validate,
    internalize,
    update,
    stageDurationsMs,
  };
  await cpu.recordStep({ runId, result });
  return result;
}
