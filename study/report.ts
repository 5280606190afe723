/** The study's record: study.json (everything) and summary.md (the table, how it was made). Pure. */
import type { MachineFacts } from '../common/machine.js';
import type { RunConfig } from '../mel/run-config.js';
import type { StudyEvalSet } from './plan.js';
import { studyTable, type StudyRunResult, type StudySummary } from './summary.js';

export interface StudyRecord {
  command: string;
  generatedAt: string;
  machine: MachineFacts;
  /** The configuration every run started from (mode, seed, steps and runId replaced per run). */
  template: RunConfig;
  steps: number;
  evalSets: { name: string; description: string; file: string; problems: number }[];
  evalSettings: { k: number; temperature: number; maxTokens: number };
  runs: StudyRunResult[];
  summary: StudySummary;
}

export function evalSetEntries(sets: readonly StudyEvalSet[], fileOf: (set: StudyEvalSet) => string) {
  return sets.map((set) => ({
    name: set.name,
    description: set.description,
    file: fileOf(set),
    problems: set.problems.length,
  }));
}

export function studyMarkdown(record: StudyRecord): string {
  const { template, machine } = record;
  const perRun = record.runs.map((run) => {
    const last = run.metrics[run.metrics.length - 1];
    const evalCell = (name: 'held-out' | 'train') => {
      const metrics = run.evals[name];
      return metrics ? `${metrics.pass1.toFixed(3)} / ${metrics.avgK.toFixed(3)}` : '–';
    };
    return (
      `| ${run.runId} | ${run.mode} | ${run.seed} | ${run.metrics.length} | ` +
      `${last ? last.passRate.toFixed(3) : '–'} | ${run.metrics.reduce((a, s) => a + s.accepted, 0)} | ` +
      `${evalCell('held-out')} | ${evalCell('train')} | ${meanStepSeconds(run).toFixed(0)} |`
    );
  });
  return [
    '# MEL against GRPO on the local stack',
    '',
    `Made by \`${record.command}\` on ${record.generatedAt.slice(0, 10)}: ${machine.cpus} × ${machine.cpuModel}, ` +
      `${machine.memoryGb} GiB, load average ${machine.loadAverage.join(' / ')} at the end (a shared machine).`,
    '',
    `Every run: ${record.steps} steps × ${template.batchSize} prompts × ${template.groupSize} samples on the ` +
      `built-in set (${template.dataset.builtinCount} problems, seed ${template.dataset.builtinSeed}), the ` +
      `stack's engine and model, learning rate ${template.optimizer.learningRate}, LoRA rank ${template.lora.rank}; ` +
      'a GRPO and a MEL run of one seed see the same problems in the same order with the same rollout seeds. ' +
      `Evals by \`mel eval\` after the last step: greedy Pass@1, and Avg@k / Pass@k over k = ${record.evalSettings.k} ` +
      `answers at temperature ${record.evalSettings.temperature}, at most ${record.evalSettings.maxTokens} tokens each.`,
    '',
    ...record.evalSets.map((set) => `- eval set \`${set.name}\` (\`${set.file}\`): ${set.description}`),
    '',
    studyTable(record.summary),
    '',
    '| run | mode | seed | steps | last pass rate | accepted | held-out Pass@1 / Avg@k | train Pass@1 / Avg@k | s per step |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...perRun,
    '',
    'Charts per step (one line per run) and the configurations side by side: [compare.html](compare.html).',
    '',
  ].join('\n');
}

/** Mean over steps of the step's stage durations summed (what the step took, without waiting for a worker). */
function meanStepSeconds(run: StudyRunResult): number {
  if (run.metrics.length === 0) return 0;
  const total = run.metrics.reduce(
    (acc, step) => acc + Object.values(step.stageDurationsMs).reduce((a, ms) => a + (ms ?? 0), 0),
    0,
  );
  return total / run.metrics.length / 1000;
}
