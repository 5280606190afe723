/**
 * `npm run tiny-model -- <command>`: the committed warm model (tiny-model/artifact/).
 *   key [--commit SHA --roots A,B,...] [--files]   the cache key of this checkout's code (or of files at a commit)
 *   rebuild [--replace] [--out DIR]                 run every warm-start round on a temporary engine (~25 min),
 *                                                   compare with the committed model; --replace installs it
 *   trace [--record]                                run the first steps of round 1 from the raw tiny model and
 *                                                   compare their losses with trace.json (--record writes it)
 *   adopt DIR --commit SHA --roots A,B,...          install an already built warm model folder as the artifact,
 *                                                   stamped with the key of the given files at that commit
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadEnv, REPO_ROOT, tinyModelDir, WARM_MODEL_DIR } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { IM_END } from '../mel/index.js';
import { loadTokenizer } from '../mel/node.js';
import { cachePaths } from '../stack/install.js';
import { withTemporaryEngine } from '../stack/temporary-engine.js';
import { readStamp, replaceArtifact, thisMachine, type Stamp } from '../tiny-model/artifact.js';
import { buildWarmModel, roundDir } from '../tiny-model/build.js';
import { codeKey } from '../tiny-model/cache-key.js';
import { workingTreeKey } from '../tiny-model/code-key.js';
import { compareBuilds } from '../tiny-model/compare.js';
import { readWarmModel, type WarmStartReport } from '../tiny-model/export.js';
import {
  roundReports,
  runTrace,
  traceMismatches,
  TraceSchema,
  TRACE_FILE,
  TRACE_STEPS,
  type Trace,
} from '../tiny-model/trace.js';
import { WARM_START_ROUNDS } from '../tiny-model/warm-start.js';

const log = createLogger('tiny-model');
const env = loadEnv();

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    replace: { type: 'boolean', default: false },
    record: { type: 'boolean', default: false },
    files: { type: 'boolean', default: false },
    out: { type: 'string' },
    commit: { type: 'string' },
    roots: { type: 'string' },
  },
});

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** The key of `roots` (files or folders) and what they import, as they were at `commit`. */
function keyAtCommit(commit: string, roots: string[]) {
  const files = git(['ls-tree', '-r', '--name-only', commit, '--', ...roots])
    .split('\n')
    .filter(Boolean);
  const exists = new Set(git(['ls-tree', '-r', '--name-only', commit]).split('\n'));
  const read = (rel: string) => (exists.has(rel) ? git(['show', `${commit}:${rel}`]) : undefined);
  return codeKey(files, read);
}

function currentCommit(files: string[]): string {
  const head = git(['rev-parse', 'HEAD']).trim();
  return git(['status', '--porcelain', '--', ...files]).trim() ? `${head} (with uncommitted changes)` : head;
}

async function readTrace(): Promise<Trace | undefined> {
  const file = path.join(WARM_MODEL_DIR, TRACE_FILE);
  return existsSync(file) ? TraceSchema.parse(JSON.parse(await readFile(file, 'utf8'))) : undefined;
}

function stampFor(
  report: WarmStartReport,
  key: string,
  keyOn: string,
  commit: string,
  machine: Stamp['machine'],
) {
  const rounds = roundReports(report).map((round, i) => ({
    round: WARM_START_ROUNDS[i]?.name ?? `round-${i + 1}`,
    steps: round.steps,
    ...round.final,
    targetsMet: round.targetsMet,
    wallTimeS: round.wallTimeS,
  }));
  return { cacheKey: key, cacheKeyComputedOn: keyOn, commit, builtAt: report.createdAt, machine, rounds };
}

function firstRoundTrace(report: WarmStartReport): Trace | undefined {
  const [first] = roundReports(report);
  if (!first?.trace) return undefined;
  return {
    round: WARM_START_ROUNDS[0]!.name,
    steps: first.trace.slice(0, TRACE_STEPS),
    recordedAt: first.createdAt,
  };
}

async function keyCommand(): Promise<void> {
  const result = values.commit
    ? keyAtCommit(values.commit, (values.roots ?? '').split(',').filter(Boolean))
    : workingTreeKey(REPO_ROOT);
  console.log(result.key);
  if (values.files) console.log(result.files.join('\n'));
  const stamp = await readStamp(WARM_MODEL_DIR);
  if (!values.commit) console.log(`committed warm model: key ${stamp?.cacheKey ?? '(no stamp)'}`);
}

async function rebuildCommand(): Promise<void> {
  const outDir = values.out ?? (await mkdtemp(path.join(tmpdir(), 'tiny-model-')));
  const started = new Date();
  const { key, files } = workingTreeKey(REPO_ROOT);
  const report = await buildWarmModel({
    rawModelDir: tinyModelDir(env),
    outDir,
    python: cachePaths(env).venvPython,
    log,
    serve: (modelDir, work) => withTemporaryEngine(env, modelDir, log, work),
  });
  const committed = await readWarmModel(WARM_MODEL_DIR);
  const lines = committed
    ? compareBuilds(committed.report, report, await readTrace())
    : ['no committed model'];
  console.log([`rebuilt in ${outDir} (started ${started.toISOString()})`, ...lines].join('\n'));
  if (!values.replace)
    return console.log('the committed model is unchanged; --replace installs the rebuilt one');
  const stamp = stampFor(
    report,
    key,
    'this checkout, when it was rebuilt',
    currentCommit(files),
    await thisMachine(),
  );
  const finalDir = roundDir(outDir, WARM_START_ROUNDS.at(-1)!);
  await replaceArtifact(WARM_MODEL_DIR, finalDir, stamp, { [TRACE_FILE]: firstRoundTrace(report) });
  console.log(`installed in ${WARM_MODEL_DIR}; commit it`);
}

async function traceCommand(): Promise<void> {
  const rawModel = tinyModelDir(env);
  const tokenizer = loadTokenizer(rawModel);
  const deps = { baseModel: rawModel, tokenizer, eosTokenId: tokenizer.tokenId(IM_END), log };
  const trace = await withTemporaryEngine(env, rawModel, log, async ({ engine }) => {
    const run = await runTrace({ ...deps, engine });
    await engine.unloadModel(run.modelId);
    return run.recorded;
  });
  console.log(JSON.stringify(trace.steps));
  if (values.record) {
    await writeFile(path.join(WARM_MODEL_DIR, TRACE_FILE), `${JSON.stringify(trace, null, 2)}\n`);
    return console.log(`recorded in ${path.join(WARM_MODEL_DIR, TRACE_FILE)}`);
  }
  const recorded = await readTrace();
  if (!recorded) throw new Error(`no ${TRACE_FILE} in ${WARM_MODEL_DIR}; --record writes one`);
  const mismatches = traceMismatches(recorded.steps, trace.steps);
  console.log(mismatches.length ? `DIFFERS: ${JSON.stringify(mismatches)}` : 'agrees with trace.json');
}

async function adoptCommand(): Promise<void> {
  const [modelDir] = positionals.slice(1);
  if (!modelDir || !values.commit || !values.roots)
    throw new Error('usage: adopt DIR --commit SHA --roots A,B,...');
  const warm = await readWarmModel(modelDir);
  if (!warm)
    throw new Error(`${modelDir} holds no warm model (model.safetensors and warm-start-report.json)`);
  const roots = values.roots.split(',');
  const commit = git(['rev-parse', values.commit]).trim();
  const { key } = keyAtCommit(commit, roots);
  const keyOn = `commit ${commit.slice(0, 7)} (git show), roots ${roots.join(', ')} and their imports`;
  const stamp = stampFor(warm.report, key, keyOn, commit, await thisMachine());
  const trace = firstRoundTrace(warm.report);
  await replaceArtifact(WARM_MODEL_DIR, modelDir, stamp, trace ? { [TRACE_FILE]: trace } : {});
  console.log(
    `installed ${modelDir} in ${WARM_MODEL_DIR} (key ${key})${trace ? '' : `; no per-step losses in its report: run \`npm run tiny-model -- trace --record\``}`,
  );
}

const COMMANDS: Record<string, () => Promise<void>> = {
  key: keyCommand,
  rebuild: rebuildCommand,
  trace: traceCommand,
  adopt: adoptCommand,
};

const command = COMMANDS[positionals[0] ?? ''];
if (!command) {
  console.error(`usage: npm run tiny-model -- ${Object.keys(COMMANDS).join('|')} ...`);
  process.exit(2);
}
command().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
