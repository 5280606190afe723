/**
 * `npm run study`: MEL against the GRPO baseline on the local stack (study/): for each seed a GRPO run and a MEL run
 * of the same configuration, each trained as `mel train` does, then evaluated by `mel eval` on held-out problems
 * and on its training problems; writes the summary, the JSON record and `mel compare`'s charts. One set of workers
 * in this process serves the whole study. Runs and evals already stored are reused (a run left unfinished is
 * attached to), so the same command resumes a study or rebuilds its files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { machineFacts } from '../common/machine.js';
import { redactedMessage } from '../common/redact.js';
import { loadComparisonInputs, writeComparison } from '../cli/compare-command.js';
import { CliContext } from '../cli/context.js';
import { evaluate } from '../cli/eval-command.js';
import { buildComparison } from '../cli/report/compare.js';
import { existingExecution, trainRun } from '../cli/run-commands.js';
import { startCliWorkers } from '../cli/workers.js';
import { loadRunConfig } from '../mel/node.js';
import { Stack } from '../stack/stack.js';
import { stepMetrics } from '../store/queries.js';
import { parseStudyArgs, StudyOptionsError, USAGE, type StudySettings } from '../study/options.js';
import { studyEvalSets, studyRuns, type StudyEvalSet, type StudyRun } from '../study/plan.js';
import { evalSetEntries, studyMarkdown, type StudyRecord } from '../study/report.js';
import { summarizeStudy, studyTable } from '../study/summary.js';

const log = createLogger('study');

const EVAL_SAMPLING = { temperature: 1, maxTokens: 96 };

async function main(argv: string[]): Promise<number> {
  const settings = parseStudyArgs(argv, process.cwd());
  if (settings === 'help') {
    console.log(USAGE);
    return 0;
  }
  const stack = await Stack.prepare(log);
  await stack.up();
  const template = await loadRunConfig(settings.configFile);
  const runs = studyRuns(template, settings);
  const sets = studyEvalSets(template, settings.heldOut);
  await mkdir(settings.outDir, { recursive: true });
  const files = await writeEvalFiles(settings.outDir, sets);
  const context = new CliContext();
  const workers = await startCliWorkers(context);
  try {
    const results = [];
    for (const [i, run] of runs.entries()) {
      log.info(
        `run ${i + 1}/${runs.length}: ${run.runId} (${run.mode}, seed ${run.seed}, ${run.config.steps} steps)`,
      );
      await trainOnce(context, run);
      const evals: StudyRecord['runs'][number]['evals'] = {};
      for (const set of sets) {
        log.info(`eval of ${run.runId} on ${set.name}`);
        const options = { data: files.get(set.name)!, k: settings.k, ...EVAL_SAMPLING, seed: 0 };
        const report = await withOneRetry(`eval of ${run.runId} on ${set.name}`, () =>
          evaluate(context, run.runId, options),
        );
        evals[set.name] = report.metrics;
      }
      const metrics = await stepMetrics(await context.db(), run.runId);
      results.push({ runId: run.runId, mode: run.mode, seed: run.seed, metrics, evals });
    }
    const record: StudyRecord = {
      command: ['npm run study --', ...argv].join(' ').replace(/ --$/, ''),
      generatedAt: new Date().toISOString(),
      machine: machineFacts(),
      template,
      steps: settings.steps,
      evalSets: evalSetEntries(sets, (set) => path.relative(REPO_ROOT, files.get(set.name)!)),
      evalSettings: { k: settings.k, ...EVAL_SAMPLING },
      runs: results,
      summary: summarizeStudy(results),
    };
    await writeRecord(context, settings, record);
    console.log(`\n${studyTable(record.summary)}\n\nwrote ${path.relative(process.cwd(), settings.outDir)}/`);
    return 0;
  } finally {
    await workers.stop();
    await context.close();
  }
}

/**
 * An eval that failed is started once more: it resumes from what it stored (its documents are keyed by eval id),
 * and a one-off failure (an activity that timed out on a busy CPU engine) does not end hours of study.
 */
async function withOneRetry<T>(what: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    log.warn(`${what} failed, trying once more: ${redactedMessage(error)}`);
    return body();
  }
}

/** The eval sets as JSON-lines files in the output folder; rewritten identically, so their hash (and eval ids) hold. */
async function writeEvalFiles(dir: string, sets: readonly StudyEvalSet[]): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const set of sets) {
    const file = path.join(dir, `eval-${set.name}.jsonl`);
    await writeFile(file, set.problems.map((problem) => JSON.stringify(problem)).join('\n') + '\n');
    files.set(set.name, file);
  }
  return files;
}

/** Trains the run unless it already completed. */
async function trainOnce(context: CliContext, run: StudyRun): Promise<void> {
  if ((await existingExecution(await context.client(), run.runId)) === 'COMPLETED') {
    log.info(`${run.runId} completed before: reused`);
    return;
  }
  await trainRun(context, run.config, {});
}

async function writeRecord(context: CliContext, settings: StudySettings, record: StudyRecord): Promise<void> {
  const runIds = record.runs.map((run) => run.runId);
  const comparison = buildComparison(
    await loadComparisonInputs(context, runIds),
    new Date(record.generatedAt),
  );
  await writeComparison(comparison, settings.outDir);
  await writeFile(path.join(settings.outDir, 'study.json'), JSON.stringify(record, null, 2) + '\n');
  await writeFile(path.join(settings.outDir, 'summary.md'), studyMarkdown(record));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    log.error(error instanceof StudyOptionsError ? error.message : redactedMessage(error));
    process.exit(1);
  },
);
