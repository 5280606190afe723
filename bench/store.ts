/**
 * `tsx bench/store.ts [--steps 20] [--sqlite-steps <steps>] [--prompts 16] [--group 8] [--tokens 1000]
 * [--backends postgresql,sqlite]
 * [--out docs]`:
 * the embedded store's cost over a run. For each backend it starts FerretDB (and PostgreSQL) of its own in a
 * temporary stack directory, then, step after step, writes a step's prompts, trajectories and rewards as rollout
 * and verify do, and times the reads the stages make (store/step-reads.ts): rollout's and verify's reads of each
 * chunk's prompts, and internalize's reads of the step; then internalize's writes of the step's datums a prompt
 * chunk at a time (each chunk twice, the second as a retried attempt's) and the policy update's read of them.
 * Prints one row per step and backend, and a Markdown table at the end; with `--out`, writes it as
 * `benchmarks-store.md` there and as the last section of `benchmarks.md`.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chunks } from '../common/chunks.js';
import { loadEnv } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { mapLimited } from '../common/map-limited.js';
import { DEFAULT_FAN_OUT, itemChunks, type ItemRange } from '../mel/fan-out.js';
import { rolloutDatums } from '../mel/index.js';
import { exitUnlessStopping, stopOnSignal } from './processes.js';
import { STORE_BENCHMARK_FILE } from './report.js';
import { ensureFerretDb } from '../stack/install.js';
import { requirePostgresBinaries } from '../stack/postgres.js';
import { freePort } from '../stack/process.js';
import { Stack } from '../stack/stack.js';
import { melCollections } from '../store/collections.js';
import { datumOf, encodeDatum } from '../store/datum-codec.js';
import {
  ids,
  type DatumDoc,
  type PromptDoc,
  type RewardDoc,
  type TrajectoryDoc,
} from '../store/documents.js';
import { ensureIndexes } from '../store/indexes.js';
import { connectMongo } from '../store/mongo.js';
import { PROMPTS_PER_DATUM_PAGE, stepReads } from '../store/step-reads.js';
import { decodeLogprobs, decodeTokens, encodeLogprobs, encodeTokens } from '../store/token-codec.js';
import { insertAbsent, writeChunkDatums } from '../store/writes.js';

type Backend = 'postgresql' | 'sqlite';
const RUN = 'store-bench';
const ORIGIN = { workflowId: 'w', workflowRunId: 'r', activityId: 'a', activityType: 'bench', attempt: 1 };

interface Shape {
  steps: number;
  /** SQLite's steps, when fewer: its reads grow with the collection, so a long run there takes hours. */
  sqliteSteps: number;
  prompts: number;
  group: number;
  tokens: number;
}

interface StepTiming {
  backend: Backend;
  step: number;
  /** Trajectories in the store after this step's writes. */
  stored: number;
  writeS: number;
  rolloutReadsS: number;
  verifyReadsS: number;
  internalizeReadsS: number;
  /** Internalize's writes of the step's datums a prompt chunk at a time, each chunk twice (the second as a retry's). */
  datumWritesS: number;
  /** The policy update's read of the step's datums, decoded. */
  datumReadsS: number;
  /** The machine's load average (1 min) after the step. */
  load?: number;
}

function parseOptions(argv: string[]): Shape & { backends: Backend[]; out?: string; rows?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      steps: { type: 'string', default: '20' },
      'sqlite-steps': { type: 'string' },
      prompts: { type: 'string', default: '16' },
      group: { type: 'string', default: '8' },
      tokens: { type: 'string', default: '1000' },
      backends: { type: 'string', default: 'postgresql,sqlite' },
      out: { type: 'string' },
      /** Render the rows a former run printed (one JSON line each) instead of measuring. */
      rows: { type: 'string' },
    },
  });
  const count = (name: keyof typeof values) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`--${name}: a positive integer, not ${values[name]}`);
    return value;
  };
  const backends = values.backends!.split(',') as Backend[];
  for (const backend of backends) {
    if (backend !== 'postgresql' && backend !== 'sqlite') throw new Error(`--backends: unknown ${backend}`);
  }
  return {
    steps: count('steps'),
    sqliteSteps: values['sqlite-steps'] === undefined ? count('steps') : count('sqlite-steps'),
    prompts: count('prompts'),
    group: count('group'),
    tokens: count('tokens'),
    backends,
    out: values.out,
    rows: values.rows,
  };
}

/** A step's documents as rollout and verify write them, with pseudo-random tokens of the given length. */
function stepDocuments(step: number, shape: Shape) {
  const prompts: PromptDoc[] = [];
  const trajectories: TrajectoryDoc[] = [];
  const rewards: RewardDoc[] = [];
  for (let p = 0; p < shape.prompts; p++) {
    const promptId = ids.prompt(RUN, step, p);
    const problem = { id: `problem-${p}`, question: 'What is 1 + 1?'.repeat(8), answer: '2' };
    const promptTokens = Array.from({ length: 120 }, (_, i) => (i * 7919 + p) % 150_000);
    prompts.push({
      _id: promptId,
      runId: RUN,
      step,
      promptIndex: p,
      problem,
      promptText: problem.question,
      promptTokens: encodeTokens(promptTokens),
      origin: ORIGIN,
    });
    for (let s = 0; s < shape.group; s++) {
      const id = ids.trajectory(promptId, s);
      const tokens = Array.from({ length: shape.tokens }, (_, i) => (i * 104_729 + s * 31 + p) % 150_000);
      trajectories.push({
        _id: id,
        runId: RUN,
        step,
        promptId,
        problemId: problem.id,
        sampleIndex: s,
        seed: step * 1000 + p * 10 + s,
        tokens: encodeTokens(tokens),
        logprobs: encodeLogprobs(tokens.map((t) => -((t % 1000) / 97))),
        text: 'x'.repeat(shape.tokens * 4),
        stopReason: 'stop',
        samplerPath: 'tinker://bench/sampler_weights/0',
        origin: ORIGIN,
      });
      rewards.push({
        _id: id,
        runId: RUN,
        step,
        promptId,
        sampleIndex: s,
        reward: s % 2 === 0 ? 1 : 0,
        extractedAnswer: '2',
        extractionMethod: 'boxed',
        groundTruth: '2',
        origin: ORIGIN,
      });
    }
  }
  return { prompts, trajectories, rewards, datums: datumDocuments(step, prompts, trajectories) };
}

/** The step's GRPO datums as internalize stores them: one per trajectory, through the datum codec. */
function datumDocuments(step: number, prompts: PromptDoc[], trajectories: TrajectoryDoc[]): DatumDoc[] {
  const promptTokens = new Map(prompts.map((p) => [p._id, decodeTokens(p.promptTokens, p._id)]));
  const samples = trajectories.map((t) => ({
    promptTokens: promptTokens.get(t.promptId)!,
    completionTokens: decodeTokens(t.tokens, t._id),
    completionLogprobs: decodeLogprobs(t.logprobs, t._id),
    advantage: t.sampleIndex % 2 === 0 ? 0.5 : -0.5,
  }));
  return rolloutDatums(samples).map((datum, index) => ({
    _id: ids.datum(RUN, step, 'grpo', trajectories[index]!._id),
    runId: RUN,
    step,
    kind: 'grpo' as const,
    sourceId: trajectories[index]!._id,
    index,
    datum: encodeDatum(datum),
    advantage: samples[index]!.advantage,
    origin: ORIGIN,
  }));
}

/** A prompt chunk's datums in pages of PROMPTS_PER_DATUM_PAGE prompts, and its batch statistics, as internalize writes. */
function writeDatumChunk(
  collections: ReturnType<typeof melCollections>,
  step: number,
  items: ItemRange,
  datums: DatumDoc[],
  { group, tokens }: Pick<Shape, 'group' | 'tokens'>,
): Promise<number> {
  const ofChunk = datums.slice(items.start * group, items.end * group);
  const pages = async function* () {
    yield* chunks(ofChunk, PROMPTS_PER_DATUM_PAGE * group);
  };
  const rollouts = ofChunk.length;
  const part = { rollouts, completionTokens: rollouts * tokens, centred: 0, centredSquares: rollouts / 4 };
  return writeChunkDatums(collections, { runId: RUN, step, items }, pages(), part);
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

async function measureBackend(backend: Backend, shape: Shape, onStep: (row: StepTiming) => void) {
  const log = createLogger('store-bench');
  const dir = await mkdtemp(path.join(os.tmpdir(), `mel-store-bench-${backend}-`));
  // Passable by others, so that as root PostgreSQL's cluster lives in it too (stack/postgres.ts) and goes with it.
  await chmod(dir, 0o755);
  const env = loadEnv({
    ...process.env,
    MONGODB_URI: '',
    MEL_STACK_DIR: dir,
    MEL_FERRETDB_BACKEND: backend,
    MEL_FERRETDB_PORT: String(await freePort()),
    MEL_POSTGRES_PORT: String(await freePort()),
  });
  const installed = {
    ferretdb: await ensureFerretDb(env, log),
    postgres: backend === 'postgresql' ? requirePostgresBinaries() : undefined,
  };
  const stack = Stack.fromInstalled(env, installed, log);
  const store = backend === 'postgresql' ? (['postgres', 'mongodb'] as const) : (['mongodb'] as const);
  // Once, whether a signal or the end of the measurement asks first (a signal's stopping of the store ends it).
  let removal: Promise<void> | undefined;
  const removeStack = () => (removal ??= stack.down().then(() => rm(dir, { recursive: true, force: true })));
  const releaseSignals = stopOnSignal(removeStack);
  await stack.up([...store]);
  const mongo = await connectMongo(stack.endpoints, { commandTimeoutMs: 600_000 });
  try {
    await ensureIndexes(mongo.db);
    const collections = melCollections(mongo.db);
    const reads = stepReads(mongo.db);
    const steps = backend === 'sqlite' ? Math.min(shape.steps, shape.sqliteSteps) : shape.steps;
    for (let step = 0; step < steps; step++) {
      const docs = stepDocuments(step, shape);
      const writeS = await timed(async () => {
        await insertAbsent(collections.prompts, docs.prompts);
        await insertAbsent(collections.trajectories, docs.trajectories);
        await insertAbsent(collections.rewards, docs.rewards);
      });
      const promptChunks = chunks(
        docs.prompts.map((prompt) => prompt._id),
        DEFAULT_FAN_OUT.promptsPerChunk,
      );
      // Each rollout chunk reads its prompts' stored samples when it starts and for its summary.
      const rolloutReadsS = await timed(() =>
        mapLimited(promptChunks, 4, async (promptIds) => {
          await reads.storedSamplesOf(promptIds);
          await reads.storedSamplesOf(promptIds);
        }),
      );
      // Each verify chunk reads its prompts' problems, rewards and answers, and their rewards again for its summary.
      const verifyReadsS = await timed(() =>
        mapLimited(promptChunks, 4, async (promptIds) => {
          await Promise.all([
            reads.problemsOf(promptIds),
            reads.rewardsOf(promptIds),
            reads.answersToScoreOf(promptIds),
          ]);
          await reads.rewardsOf(promptIds);
        }),
      );
      // Internalize reads the step's prompt tokens and rewards, then its answers a page of prompts at a time.
      const datumPages = chunks(docs.prompts, PROMPTS_PER_DATUM_PAGE);
      const internalizeReadsS = await timed(async () => {
        await Promise.all([reads.promptTokens(RUN, step), reads.rewards(RUN, step)]);
        for (const page of datumPages) await reads.answersToTrainOf(page.map((prompt) => prompt._id));
      });
      // One datum per trajectory, written a prompt chunk at a time as each chunk is verified, 4 chunks at once; each
      // chunk twice, the second as a retry's.
      const datumChunks = itemChunks(shape.prompts, DEFAULT_FAN_OUT.promptsPerChunk);
      const datumWritesS = await timed(() =>
        mapLimited(datumChunks, 4, async (items) => {
          await writeDatumChunk(collections, step, items, docs.datums, shape);
          await writeDatumChunk(collections, step, items, docs.datums, shape);
        }),
      );
      const datumReadsS = await timed(async () => {
        for await (const page of (await reads.grpoDatumPages(RUN, step)).pages) page.map(datumOf);
      });
      const stored = (step + 1) * shape.prompts * shape.group;
      const load = os.loadavg()[0]!;
      onStep({
        backend,
        step,
        stored,
        writeS,
        rolloutReadsS,
        verifyReadsS,
        internalizeReadsS,
        datumWritesS,
        datumReadsS,
        load,
      });
    }
  } finally {
    await mongo.close();
    await removeStack();
    releaseSignals();
  }
}

const seconds = (value: number) => value.toFixed(2);

function markdownTable(rows: StepTiming[]): string {
  const header = [
    '| backend | step | trajectories stored | write s | rollout reads s | verify reads s | internalize reads s | reads s | datum writes s | datum reads s | store s |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
  ];
  return [
    ...header,
    ...rows.map((row) => {
      const cells = [
        row.writeS,
        row.rolloutReadsS,
        row.verifyReadsS,
        row.internalizeReadsS,
        readsOf(row),
        row.datumWritesS,
        row.datumReadsS,
        storeTimeOf(row),
      ].map(seconds);
      return `| ${row.backend} | ${row.step} | ${row.stored} | ${cells.join(' | ')} |`;
    }),
  ].join('\n');
}

const SECTION_TITLE = '## The store over a run';

function storeSection(rows: StepTiming[], argv: string[], shape: Shape): string {
  const loads = rows.flatMap((row) => (row.load === undefined ? [] : [row.load]));
  const load =
    loads.length > 0
      ? `load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during the run`
      : 'load average not recorded';
  return [
    SECTION_TITLE,
    '',
    `Measured by \`tsx bench/store.ts ${argv.join(' ')}\` on ${new Date().toISOString().slice(0, 10)}, on ` +
      `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'} (shared; ${load}).` +
      ' Generated: edit bench/store.ts, not this section. Each step writes ' +
      `${shape.prompts} prompts × ${shape.group} trajectories of ${shape.tokens} tokens (token ids and logprobs ` +
      'through store/token-codec.ts) and their rewards, then times the reads the stages make ' +
      "(store/step-reads.ts): rollout (each chunk reads its prompts' stored samples when it starts and for its " +
      "summary), verify (each chunk reads its prompts' problems, rewards and answers) and internalize; then " +
      "internalize's write of the step's GRPO datums (through " +
      "store/datum-codec.ts, twice: the second as a retried attempt's) and the policy update's read of them. " +
      'Per-step store time that grows with the step number is cost that grows ' +
      'with the run.',
    '',
    ...reading(rows),
    '',
    markdownTable(rows),
    '',
  ].join('\n');
}

const readsOf = (row: StepTiming) => row.rolloutReadsS + row.verifyReadsS + row.internalizeReadsS;
/** Everything the step spends in the store. */
const storeTimeOf = (row: StepTiming) => row.writeS + readsOf(row) + row.datumWritesS + row.datumReadsS;

/** Per backend: the mean store time of a step over the first five steps and over the last five. */
function reading(rows: StepTiming[]): string[] {
  const mean = (some: StepTiming[]) => some.reduce((sum, row) => sum + storeTimeOf(row), 0) / some.length;
  return [...new Set(rows.map((row) => row.backend))].map((backend) => {
    const own = rows.filter((row) => row.backend === backend);
    const [first, last] = [own.slice(0, 5), own.slice(-5)];
    return (
      `- ${backend}: a step's store time (writes and reads) is ${seconds(mean(first))} s over steps ${first[0]!.step}–${first.at(-1)!.step} ` +
      `and ${seconds(mean(last))} s over steps ${last[0]!.step}–${last.at(-1)!.step} ` +
      `(${(mean(last) / mean(first)).toFixed(1)}×, with ${(last.at(-1)!.stored / first[0]!.stored).toFixed(0)}× the trajectories stored).`
    );
  });
}

async function writeSection(out: string, section: string): Promise<void> {
  await writeFile(path.join(out, STORE_BENCHMARK_FILE), section);
  const page = path.join(out, 'benchmarks.md');
  const current = existsSync(page) ? await readFile(page, 'utf8') : '# Benchmarks\n';
  const before = current.split(`\n${SECTION_TITLE}\n`)[0]!.trimEnd();
  await writeFile(page, `${before}\n\n${section}`);
}

async function main(argv: string[]): Promise<void> {
  const { backends, out, rows: saved, ...shape } = parseOptions(argv);
  if (saved) {
    const rows = (await readFile(saved, 'utf8'))
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as StepTiming);
    const command = argv.filter((arg, i) => arg !== '--rows' && argv[i - 1] !== '--rows');
    if (out) await writeSection(out, storeSection(rows, command, shape));
    return;
  }
  const rows: StepTiming[] = [];
  for (const backend of backends) {
    await measureBackend(backend, shape, (row) => {
      rows.push(row);
      console.log(JSON.stringify(row));
    });
  }
  console.log(`\n${markdownTable(rows)}`);
  if (out) await writeSection(out, storeSection(rows, argv, shape));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  exitUnlessStopping(1);
});
