/**
 * One measured configuration of tinker-cookbook's RL loop: a fresh engine double (the same flags as the
 * mel-temporal side), the cookbook's GRPO steps against it, and each step's engine time from the double's timeline.
 */
import path from 'node:path';
import { builtinProblems } from '../mel/builtin-dataset.js';
import type { BenchConfig } from './configs.js';
import { runCookbookGrpo, writeProblemsJsonl, type CookbookStep } from './cookbook.js';
import { measureStep, type StepSpans } from './metrics.js';
import {
  benchName,
  datasetSize,
  fetchTimeline,
  runConfigFor,
  startDouble,
  type BenchEnv,
  type OnProgress,
} from './mel-temporal.js';
import type { Measured } from './results.js';

export async function measureCookbook(
  config: BenchConfig,
  env: BenchEnv,
  onProgress: OnProgress,
): Promise<Measured> {
  const name = benchName(config);
  const datasetFile = path.join(env.logDir, `${name}.problems.jsonl`);
  await writeProblemsJsonl(
    datasetFile,
    builtinProblems({ seed: 0, count: Math.max(1000, datasetSize(config)) }),
  );
  const { double, url } = await startDouble(config, env, name);
  try {
    const ended: { step: CookbookStep; endMs: number }[] = [];
    onProgress('installing or starting tinker-cookbook');
    const result = await runCookbookGrpo(
      {
        engineUrl: url,
        batchSize: config.batchSize,
        groupSize: config.groupSize,
        maxTokens: runConfigFor(config, name).sampling.rollout.maxTokens,
        steps: config.steps,
        tokenizerDir: env.tokenizerDir,
        datasetFile,
        seed: 1,
        timeoutMs: env.budgetMs,
        logDir: path.join(env.logDir, `${name}.cookbook`),
      },
      {
        onStep: (step) => {
          ended.push({ step, endMs: Date.now() });
          onProgress(`step ${step.step + 1}/${config.steps} done in ${step.seconds.toFixed(1)} s`);
        },
      },
    );
    const { intervals, maxSlots } = await fetchTimeline(url);
    return {
      ok: result.ok,
      error: result.error,
      steps: ended.map((entry) => measureStep(cookbookSpans(entry.step, entry.endMs), intervals, maxSlots)),
    };
  } finally {
    await double.stop();
  }
}

/**
 * A cookbook step as spans: it reports its wall, sampling and training seconds when it ends, so the step is
 * placed just before that moment, sampling first (as the rollout stage) and training after (as the policy update).
 */
export function cookbookSpans(step: CookbookStep, endMs: number): StepSpans {
  const startMs = endMs - step.seconds * 1000;
  const samplingEndMs = startMs + (step.samplingSeconds ?? 0) * 1000;
  const activities = [{ activity: 'rollout', scheduledMs: startMs, closedMs: samplingEndMs }];
  if (step.trainingSeconds !== undefined) {
    activities.push({
      activity: 'policyUpdate',
      scheduledMs: samplingEndMs,
      closedMs: samplingEndMs + step.trainingSeconds * 1000,
    });
  }
  return { step: step.step, startMs, endMs, historyEvents: 0, historyBytes: 0, activities };
}
