/**
 * `mel eval`: a policy's Pass@1 (one greedy answer per problem) and Avg@k / Pass@k (k sampled answers) on a
 * held-out data file. Problems, answers and scores go to MongoDB, keyed by eval, problem and sample; only counts
 * and the final metrics pass through Temporal. Every activity skips what is already stored, so a retry resumes.
 */
import { isDeepStrictEqual } from 'node:util';
import { log } from '@temporalio/activity';
import { z } from 'zod';
import {
  assertUnchanged,
  EvalIdSchema,
  EvalSettingsSchema,
  evalMetrics,
  evalSampleSeed,
  problemOutcomes,
  renderGenerationPrompt,
  rolloutMessages,
  verificationRecord,
  type EvalSampleKey,
} from '../mel/index.js';
import { ids, idsUnder, type EvalProblemDoc } from '../store/documents.js';
import { melCollections } from '../store/collections.js';
import { insertAbsent, replaceAll, setOnce, upsertOne } from '../store/writes.js';
import { decodeTokens, encodeLogprobs, encodeTokens } from '../store/token-codec.js';
import {
  evalIdentity,
  type EvalChunk,
  type EvalPrepared,
  type EvalResult,
  type FinishEvalInput,
  type PrepareEvalInput,
  type SampleEvalChunkInput,
} from '../temporal/contracts/eval.js';
import { sampleOneWithPolicy } from './policy.js';
import { sampledBy } from './sample-provenance.js';
import { invalidInput, loadDataFile, mapWithProgress, origin, type MelActivityDeps } from './support.js';

/** Engine requests in flight per sampling activity: the local SkyRL engine batches up to 16 (sample_max_num_sequences). */
const SAMPLES_IN_FLIGHT = 16;

export function createEvalActivities(deps: MelActivityDeps) {
  const { db, tokenizer } = deps;
  const { evals, evalProblems, evalSamples, writeOnce } = melCollections(db);

  async function loadEval(evalId: string) {
    const doc = await evals.findOne({ _id: evalId });
    if (!doc) throw invalidInput(`eval ${evalId} is not prepared`);
    return doc;
  }

  /**
   * Registers the eval and writes its problems with their rollout prompts. An eval that has completed returns its
   * stored result; the same eval id with another policy, data file or settings is refused.
   */
  async function prepareEval(input: PrepareEvalInput): Promise<EvalPrepared> {
    const { evalId, workflowId, ...definition } = input;
    const invalid = [EvalIdSchema.safeParse(evalId), EvalSettingsSchema.safeParse(definition.settings)].find(
      (parsed) => !parsed.success,
    );
    if (invalid?.error) throw invalidInput(`eval ${evalId}: ${z.prettifyError(invalid.error)}`);
    const existing = await evals.findOne({ _id: evalId });
    if (existing && !isDeepStrictEqual(evalIdentity(existing.definition), evalIdentity(definition))) {
      throw invalidInput(
        `eval ${evalId} already exists with another policy, data file or settings; choose another eval id`,
      );
    }
    if (existing?.status === 'completed' && existing.result) {
      return { problems: existing.problems, stored: existing.result };
    }
    const { path, sha256 } = definition.data;
    const file = await loadDataFile(path);
    assertUnchanged(path, sha256, file.sha256, 'the eval was started');
    const { limit } = definition.settings;
    const problems = limit === null ? file.problems : file.problems.slice(0, limit);
    if (problems.length === 0) throw invalidInput(`data set ${path} has no problems`);
    const source = origin();
    const docs = problems.map((problem, problemIndex): EvalProblemDoc => {
      const promptText = renderGenerationPrompt(rolloutMessages(problem));
      return {
        _id: ids.evalProblem(evalId, problemIndex),
        evalId,
        problemIndex,
        problem,
        promptText,
        promptTokens: encodeTokens(tokenizer.encode(promptText)),
        origin: source,
      };
    });
    await replaceAll(evalProblems, { evalId, _id: idsUnder(evalId) }, docs);
    // The status is set on insert only: a stale attempt's late write cannot turn a completed eval back to running.
    await upsertOne(evals, evalId, {
      $setOnInsert: { definition, workflowId, createdAt: new Date(), status: 'running' },
      $set: { problems: docs.length, 'origin.prepare': source },
    });
    log.info('eval prepared', {
      evalId,
      problems: docs.length,
      statePath: definition.target.policy.statePath,
    });
    return { problems: docs.length };
  }

  /** The greedy answer and the k sampled answers of each problem of the chunk; stored ones are skipped. */
  async function sampleEvalChunk({ policy, ...chunk }: SampleEvalChunkInput): Promise<number> {
    const { settings } = (await loadEval(chunk.evalId)).definition;
    const problems = await evalProblems.find(chunkFilter(chunk)).sort({ problemIndex: 1 }).toArray();
    const stored = new Set(
      (await evalSamples.find(chunkFilter(chunk), { projection: { _id: 1 } }).toArray()).map((s) => s._id),
    );
    const keys: EvalSampleKey[] = [
      { kind: 'greedy' },
      ...Array.from({ length: settings.k }, (_, index) => ({ kind: 'sampled' as const, index })),
    ];
    const missing = problems.flatMap((problem) =>
      keys
        .map((key) => ({ problem, key, id: ids.evalSample(problem._id, key) }))
        .filter(({ id }) => !stored.has(id)),
    );
    await mapWithProgress(
      'eval-sample',
      missing,
      SAMPLES_IN_FLIGHT,
      async ({ problem, key, id }) => {
        const seed = evalSampleSeed(settings.seed, problem.problemIndex, key);
        const temperature = key.kind === 'greedy' ? 0 : settings.temperature;
        const { sequence, text, samplerPath } = await sampleOneWithPolicy(deps, policy, {
          promptTokens: decodeTokens(problem.promptTokens, `eval_problems ${problem._id} promptTokens`),
          maxTokens: settings.maxTokens,
          temperature,
          seed,
        });
        // Write-once: a late write of a stale attempt would otherwise wipe the answer's score.
        await insertAbsent(evalSamples, [
          {
            _id: id,
            evalId: chunk.evalId,
            problemIndex: problem.problemIndex,
            problemId: problem.problem.id,
            kind: key.kind,
            sampleIndex: key.kind === 'greedy' ? 0 : key.index,
            seed,
            temperature,
            tokens: encodeTokens(sequence.tokens),
            logprobs: encodeLogprobs(sequence.logprobs),
            text,
            stopReason: sequence.stopReason,
            samplerPath,
            sampledBy: sampledBy(deps.engineId, policy),
            origin: origin(),
          },
        ]);
      },
      () => chunk,
    );
    return problems.length * keys.length;
  }

  /**
   * Verifies each unscored answer of the chunk against its problem's ground truth; returns how many of the chunk's
   * answers are correct. A score once stored stands.
   */
  async function scoreEvalChunk(chunk: EvalChunk): Promise<number> {
    const problems = new Map(
      (await evalProblems.find(chunkFilter(chunk)).toArray()).map((p) => [p.problemIndex, p.problem]),
    );
    const unscored = { ...chunkFilter(chunk), verification: { $exists: false } };
    const samples = await evalSamples.find(unscored, { projection: { tokens: 0, logprobs: 0 } }).toArray();
    const source = origin();
    // All at once: the verifier pool queues them for its threads.
    const scored = await mapWithProgress('eval-score', samples, samples.length, async (sample) => {
      const problem = problems.get(sample.problemIndex);
      if (!problem) throw new Error(`eval sample ${sample._id} has no problem document`);
      const record = await verificationRecord(sample.text, problem.answer, deps.compareSymbolically);
      return { id: sample._id, verification: { ...record, origin: source } };
    });
    const fences = scored.map(({ id, verification }) => ({ id, fields: { verification } }));
    await setOnce(writeOnce, evalSamples, 'verification', fences);
    return evalSamples.countDocuments({ ...chunkFilter(chunk), 'verification.correct': true });
  }

  /** The metrics from the stored scores, recorded on the eval; every answer must be there and scored. */
  async function finishEval({ evalId, workflowRunId }: FinishEvalInput): Promise<EvalResult> {
    const doc = await loadEval(evalId);
    if (doc.status === 'completed' && doc.result) return doc.result;
    const { settings, target, data } = doc.definition;
    const samples = await evalSamples
      .find({ evalId, _id: idsUnder(evalId) }, { projection: { tokens: 0, logprobs: 0, text: 0 } })
      .toArray();
    const outcomes = problemOutcomes(
      samples.map((s) => ({ ...s, correct: s.verification?.correct })),
      doc.problems,
      settings.k,
    );
    const result: EvalResult = {
      evalId,
      workflowId: doc.workflowId,
      workflowRunId,
      target: {
        kind: target.kind,
        runId: target.runId,
        step: target.step,
        statePath: target.policy.statePath,
      },
      data,
      settings,
      metrics: evalMetrics(outcomes, settings.k),
      truncated: samples.filter((s) => s.stopReason === 'length').length,
      completedAt: new Date().toISOString(),
    };
    // Write-once: the first result recorded stands.
    const fields = { status: 'completed' as const, result, 'origin.finish': origin() };
    const [stored] = await setOnce(writeOnce, evals, 'result', [{ id: evalId, fields }]);
    log.info('eval completed', { evalId, ...stored!.result.metrics, truncated: stored!.result.truncated });
    return stored!.result;
  }

  return { prepareEval, sampleEvalChunk, scoreEvalChunk, finishEval };
}

/** The chunk's problems or answers: the eval's `_id` range, which the store answers from its index, then the indices. */
function chunkFilter({ evalId, first, count }: EvalChunk) {
  return { evalId, _id: idsUnder(evalId), problemIndex: { $gte: first, $lt: first + count } };
}
