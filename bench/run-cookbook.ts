/**
 * tinker-cookbook's GRPO steps against a running engine (the double or SkyRL), from the command line:
 *   tsx bench/run-cookbook.ts --engine-url http://127.0.0.1:18555 --batch-size 16 --group-size 8 --max-tokens 1536 --steps 3
 * Without --dataset it exports the built-in problems the double knows (seed 0, 1000 problems). Prints each step
 * as it ends on stderr and the result as JSON on stdout.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadEnv, tinyModelDir } from '../common/env.js';
import { builtinProblems } from '../mel/builtin-dataset.js';
import { runCookbookGrpo, writeProblemsJsonl } from './cookbook.js';

const { values } = parseArgs({
  options: {
    'engine-url': { type: 'string' },
    'batch-size': { type: 'string', default: '16' },
    'group-size': { type: 'string', default: '8' },
    'max-tokens': { type: 'string', default: '1536' },
    steps: { type: 'string', default: '3' },
    tokenizer: { type: 'string' },
    dataset: { type: 'string' },
    seed: { type: 'string', default: '0' },
    'loss-fn': { type: 'string', default: 'importance_sampling' },
    'timeout-s': { type: 'string', default: '1800' },
  },
});

async function datasetFile(): Promise<string> {
  if (values.dataset) return values.dataset;
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'cookbook-bench-')), 'problems.jsonl');
  await writeProblemsJsonl(file, builtinProblems({ seed: 0, count: 1000 }));
  return file;
}

const result = await runCookbookGrpo(
  {
    engineUrl: values['engine-url'] ?? '',
    batchSize: Number(values['batch-size']),
    groupSize: Number(values['group-size']),
    maxTokens: Number(values['max-tokens']),
    steps: Number(values.steps),
    tokenizerDir: values.tokenizer ?? tinyModelDir(loadEnv()),
    datasetFile: await datasetFile(),
    seed: Number(values.seed),
    lossFn: values['loss-fn'] as 'importance_sampling' | 'ppo',
    timeoutMs: Number(values['timeout-s']) * 1000,
  },
  { onStep: (step) => process.stderr.write(`${JSON.stringify(step)}\n`) },
);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exitCode = result.ok ? 0 : 1;
