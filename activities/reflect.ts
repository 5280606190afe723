/** The MEL loop proper: contrastive pairs, meta-experience generation, and validation by replay. */
import {
  chainedMetaExperienceMessages,
  checkLeakage,
  metaExperienceMessagesFor,
  parseChainedMetaExperience,
  parseMetaExperience,
  renderContinuation,
  renderGenerationPrompt,
  selectSamplePairs,
  validationMessages,
  verifySolution,
  CHAINED_STEP_COUNT,
  type ChatMessage,
  type ContrastiveInput,
  type Exclusion,
  type MetaExperience,
  type MetaExperienceParse,
  type Problem,
  type Verification,
  groupSamples,
} from '../mel/index.js';
import {
  ids,
  type GenerationTurn,
  type LeakageRecord,
  type MetaExperienceDoc,
  type PairDoc,
} from '../store/documents.js';
import type { ReflectionEngine } from '../engine/engine.js';
import { melCollections } from '../store/collections.js';
import { insertAbsent, replaceAll, setOnce } from '../store/writes.js';
import type { PolicyRef } from '../temporal/contracts/common.js';
import type {
  ContrastSummary,
  PolicyStepRef,
  StepRef,
  SummarizeSummary,
  ValidateSummary,
} from '../temporal/contracts/run.js';
import type { RunConfig } from '../mel/run-config.js';
import { pairSamplingSeed, samplingSeed } from '../mel/schedule.js';
import { isolateItem, sampleOneItem, type ItemOutcome } from './isolation.js';
import { loadRun, mapWithProgress, origin, type MelActivityDeps } from './support.js';

/** One sampled turn of a reflection, and the sampler that wrote it (none for an external reflector). */
interface ReflectionOutput {
  turn: Omit<GenerationTurn, 'promptTokens'>;
  samplerPath: string | undefined;
}

const GENERATIONS_IN_FLIGHT = 4;

export function createReflectActivities(deps: MelActivityDeps) {
  const { db, tokenizer } = deps;
  const { prompts, trajectories, rewards, pairs, metaExperiences, writeOnce } = melCollections(db);

  /** (correct, incorrect) pairs of every mixed group, all or a seeded sample (paper §3.2). */
  async function contrast({ runId, step }: StepRef): Promise<ContrastSummary> {
    const run = await loadRun(db, runId);
    const problemIds = new Map(
      (await prompts.find({ runId, step }).toArray()).map((p) => [p._id, p.problem.id]),
    );
    const groups = groupSamples(await rewards.find({ runId, step }).toArray());
    const source = origin();
    const docs: PairDoc[] = [...groups].flatMap(([promptId, samples]) =>
      selectSamplePairs(samples, ids.withinRun(runId, promptId), {
        ...run.config.mel.pairs,
        seed: pairSamplingSeed(run.config.seed, run.config.mel.pairs.seed),
      }).map((pair) => ({
        _id: ids.pair(promptId, pair.positiveIndex, pair.negativeIndex),
        runId,
        step,
        promptId,
        problemId: problemIds.get(promptId) ?? '',
        positiveTrajectoryId: ids.trajectory(promptId, pair.positiveIndex),
        negativeTrajectoryId: ids.trajectory(promptId, pair.negativeIndex),
        origin: source,
      })),
    );
    await replaceAll(pairs, { runId, step }, docs);
    return { pairs: docs.length };
  }

  /** The policy writes a meta-experience for each pair; it is parsed and checked for leakage. */
  async function summarize({ runId, step, policy }: PolicyStepRef): Promise<SummarizeSummary> {
    const run = await loadRun(db, runId);
    const stepPairs = await pairs.find({ runId, step }).sort({ _id: 1 }).toArray();
    const results = await mapWithProgress('summarize', stepPairs, GENERATIONS_IN_FLIGHT, async (pair) => {
      const id = ids.metaExperience(pair._id);
      const existing = await metaExperiences.findOne({ _id: id });
      // A reflection the engine could not give is sampled again by a retry, as a rollout's incomplete group is.
      if (existing && !existing.generation.failure) return existing;
      return generateCandidate(run.config, policy, pair, id);
    });
    return {
      candidates: results.length,
      parsed: results.filter((doc) => doc.parse.ok).length,
      leaking: results.filter((doc) => doc.leakage?.leaked).length,
      samplingFailed: results.filter((doc) => doc.generation.failure).length,
    };
  }

  async function generateCandidate(config: RunConfig, policy: PolicyRef, pair: PairDoc, id: string) {
    const prompt = await prompts.findOne({ _id: pair.promptId });
    const [positive, negative] = await Promise.all(
      [pair.positiveTrajectoryId, pair.negativeTrajectoryId].map((tid) => trajectories.findOne({ _id: tid })),
    );
    if (!prompt || !positive || !negative) throw new Error(`pair ${pair._id} refers to missing documents`);
    const input: ContrastiveInput = {
      question: prompt.problem.question,
      incorrectSolution: negative.text,
      correctSolution: positive.text,
    };
    const seed = samplingSeed(config.seed, pair.step, 'summarize', ids.withinRun(pair.runId, pair._id));
    const { turns, samplerPath, failure } = await generateTurns(config, policy, input, seed);
    const reflector = deps.reflection ? { reflector: deps.reflection.name } : {};
    const parse = failure ? notSampled(failure) : parseTurns(config, turns);
    const leakage = parse.ok ? await checkForReplay(config, parse.metaExperience, prompt.problem) : undefined;
    const doc: MetaExperienceDoc = {
      _id: id,
      runId: pair.runId,
      step: pair.step,
      promptId: pair.promptId,
      pairId: pair._id,
      problemId: pair.problemId,
      mode: config.mel.metaExperience.mode,
      generation: { turns, seed, samplerPath, ...reflector, ...(failure ? { failure } : {}) },
      parse: parse.ok ? parse : { ok: false, reason: parse.reason },
      ...(leakage ? { leakage } : {}),
      origin: { summarize: origin() },
    };
    // Write-once: a candidate stored first (by a stale attempt's late write too) stands, with its verdict.
    if ((await insertAbsent(metaExperiences, [doc])).has(id)) return doc;
    return (await metaExperiences.findOne({ _id: id }))!;
  }

  /**
   * One turn (single-call, Appendix C) or three (chained, Eqs. 2–4), each continuing the last token for token; a
   * turn that cannot be sampled ends the chain with its `failure`.
   */
  async function generateTurns(config: RunConfig, policy: PolicyRef, input: ContrastiveInput, seed: number) {
    const chained = config.mel.metaExperience.mode === 'chained';
    const turns: GenerationTurn[] = [];
    let samplerPath = policy.samplerPath;
    for (let k = 0; k < (chained ? CHAINED_STEP_COUNT : 1); k++) {
      const messages = chained
        ? chainedMetaExperienceMessages(
            input,
            turns.map((turn) => turn.text),
          )
        : metaExperienceMessagesFor(config.mel.metaExperience.prompt, input);
      const promptTokens = chained
        ? chainedPromptTokens(messages, turns)
        : tokenizer.encode(renderGenerationPrompt(messages));
      const output = deps.reflection
        ? await reflectElsewhere(deps.reflection, config, messages, seed + k)
        : await reflectWithPolicy(config, policy, promptTokens, seed + k);
      if (!output.ok) return { turns, samplerPath, failure: output.exclusion };
      samplerPath = output.value.samplerPath ?? samplerPath;
      turns.push({ promptTokens, ...output.value.turn });
      if (output.value.turn.stopReason === 'length') break;
    }
    return { turns, samplerPath, failure: undefined };
  }

  /** The paper's way: the policy itself writes the meta-experience. */
  async function reflectWithPolicy(
    config: RunConfig,
    policy: PolicyRef,
    promptTokens: number[],
    seed: number,
  ): Promise<ItemOutcome<ReflectionOutput>> {
    const { temperature, maxTokens } = config.sampling.reflection;
    const sampled = await sampleOneItem(deps, policy, { promptTokens, maxTokens, temperature, seed });
    if (!sampled.ok) return sampled;
    const { sequence, text, samplerPath } = sampled.value;
    const turn = { outputTokens: sequence.tokens, text, stopReason: sequence.stopReason };
    return { ok: true, value: { turn, samplerPath } };
  }

  /**
   * A stronger reflector on an OpenAI-compatible server writes it instead. Its text is encoded with the policy's
   * tokenizer (plus the end-of-turn token) as the target the policy internalizes.
   */
  async function reflectElsewhere(
    reflection: ReflectionEngine,
    config: RunConfig,
    messages: ChatMessage[],
    seed: number,
  ): Promise<ItemOutcome<ReflectionOutput>> {
    const { temperature, maxTokens } = config.sampling.reflection;
    const replied = await isolateItem(() =>
      reflection.chat({ messages, numSamples: 1, maxTokens, temperature, seed }),
    );
    if (!replied.ok) return replied;
    const [reply] = replied.value;
    if (!reply) {
      const detail = 'the reflection engine returned no completion';
      return { ok: false, exclusion: { reason: 'missing-sample', detail } };
    }
    const turn = {
      outputTokens: [...tokenizer.encode(reply.text), tokenizer.eosTokenId],
      text: reply.text,
      stopReason: reply.stopReason,
    };
    return { ok: true, value: { turn, samplerPath: undefined } };
  }

  function chainedPromptTokens(messages: ChatMessage[], earlier: GenerationTurn[]): number[] {
    const last = earlier.at(-1);
    if (!last) return tokenizer.encode(renderGenerationPrompt(messages));
    // Continue from the exact sampled tokens, so the whole chain is one token sequence for the NLL datum.
    return [
      ...last.promptTokens,
      ...last.outputTokens,
      ...tokenizer.encode(renderContinuation(messages.slice(-1))),
    ];
  }

  /** The leakage check of everything the replay will see, with the run's leakage policy and verifier. */
  async function checkForReplay(
    config: RunConfig,
    metaExperience: MetaExperience,
    problem: Problem,
  ): Promise<LeakageRecord> {
    const settings = { leakage: config.mel.metaExperience.leakage, verifier: config.mel.verifier };
    const text = experienceForReplay(metaExperience);
    const { report, rejected } = await checkLeakage(text, problem, deps.compareSymbolically, settings);
    return { ...report, rejected };
  }

  function parseTurns(config: RunConfig, turns: GenerationTurn[]): MetaExperienceParse {
    const options = {
      truncated: turns.some((turn) => turn.stopReason === 'length'),
      requireConditionalHeuristics: config.mel.metaExperience.requireConditionalHeuristics,
    };
    if (config.mel.metaExperience.mode === 'single-call')
      return parseMetaExperience(turns[0]?.text ?? '', options);
    const [bifurcation = '', critique = '', heuristics = ''] = turns.map((turn) => turn.text);
    return parseChainedMetaExperience({ bifurcation, critique, heuristics }, options);
  }

  /** Replay: the policy re-solves the question with the meta-experience in context; kept iff that verifies (Eq. 6). */
  async function validate({ runId, step, policy }: PolicyStepRef): Promise<ValidateSummary> {
    const run = await loadRun(db, runId);
    const candidates = await metaExperiences.find({ runId, step }).sort({ _id: 1 }).toArray();
    const verdicts = await mapWithProgress(
      'validate',
      candidates,
      GENERATIONS_IN_FLIGHT,
      async (candidate) => {
        const settled = candidate.verdict && candidate.verdict.reason !== 'sampling-failed';
        const verdict = settled ? candidate.verdict! : await judge(run.config, policy, candidate);
        return verdict.accepted;
      },
    );
    const accepted = verdicts.filter(Boolean).length;
    return { accepted, rejected: verdicts.length - accepted };
  }

  async function judge(config: RunConfig, policy: PolicyRef, candidate: MetaExperienceDoc) {
    // Write-once: the verdict written first (a stale attempt's late write too) stands, with its replay.
    const setVerdict = async (update: Pick<MetaExperienceDoc, 'verdict' | 'validation'>) => {
      const fields = { ...update, 'origin.validate': origin() };
      const [stored] = await setOnce(writeOnce, metaExperiences, 'verdict', [{ id: candidate._id, fields }]);
      return stored!.verdict!;
    };
    const { failure } = candidate.generation;
    if (failure) return setVerdict({ verdict: samplingFailed('reflection', failure) });
    if (!candidate.parse.ok) {
      return setVerdict({
        verdict: { accepted: false, reason: 'unparseable', detail: candidate.parse.reason },
      });
    }
    const prompt = await prompts.findOne({ _id: candidate.promptId });
    if (!prompt) throw new Error(`candidate ${candidate._id} has no prompt document`);
    // A candidate summarized before answer statements were looked for is checked now, before its replay.
    const leakage =
      candidate.leakage?.answerStatements !== undefined
        ? candidate.leakage
        : await checkForReplay(config, candidate.parse.metaExperience, prompt.problem);
    const checked = leakage === candidate.leakage ? {} : { leakage };
    if (leakage.rejected) return setVerdict({ ...checked, verdict: leakageVerdict(leakage, prompt.problem) });
    const promptText = renderGenerationPrompt(
      validationMessages(experienceForReplay(candidate.parse.metaExperience), prompt.problem),
    );
    const seed = samplingSeed(
      config.seed,
      candidate.step,
      'validate',
      ids.withinRun(candidate.runId, candidate._id),
    );
    const { temperature, maxTokens } = config.sampling.validation;
    const replayed = await sampleOneItem(deps, policy, {
      promptTokens: tokenizer.encode(promptText),
      maxTokens,
      temperature,
      seed,
    });
    if (!replayed.ok) return setVerdict({ verdict: samplingFailed('replay', replayed.exclusion) });
    const { sequence: replay, text } = replayed.value;
    const check = await verifySolution(
      text,
      prompt.problem.answer,
      deps.compareSymbolically,
      config.mel.verifier,
    );
    return setVerdict({
      ...checked,
      validation: {
        promptText,
        tokens: replay.tokens,
        text,
        stopReason: replay.stopReason,
        seed,
        extractedAnswer: check.extracted,
        groundTruth: prompt.problem.answer,
        correct: check.correct,
        verifierReason: check.reason,
      },
      verdict: check.correct
        ? {
            accepted: true,
            reason: 'replay-verified',
            detail: `replay answered ${check.extracted}, which matches ${prompt.problem.answer}`,
          }
        : {
            accepted: false,
            reason: 'replay-wrong-answer',
            detail: wrongReplayDetail(check, prompt.problem.answer),
          },
    });
  }

  return { contrast, summarize, validate };
}

/** A candidate whose reflection or replay the engine could not give: rejected with why, the step goes on. */
function samplingFailed(
  what: 'reflection' | 'replay',
  failure: Exclusion,
): NonNullable<MetaExperienceDoc['verdict']> {
  return {
    accepted: false,
    reason: 'sampling-failed',
    detail: `${what}: ${failure.reason}: ${failure.detail}`,
  };
}

/** The parse of a reflection that was never sampled whole: nothing to parse. */
function notSampled(failure: Exclusion): MetaExperienceParse {
  return { ok: false, reason: `not sampled (${failure.reason})`, rawText: '' };
}

/** What the replay prompt shows of a meta-experience, and so what the leakage check reads: all of it. */
function experienceForReplay(metaExperience: MetaExperience): string {
  return metaExperience.rawText;
}

/** The verdict on a candidate the leakage check rejected: stating the answer outranks the softer leaks. */
function leakageVerdict(leakage: LeakageRecord, problem: Problem): NonNullable<MetaExperienceDoc['verdict']> {
  const statements = leakage.answerStatements ?? [];
  if (statements.length > 0) {
    const detail = `states the answer ${problem.answer} as ${statements.join(', ')}; not replayed`;
    return { accepted: false, reason: 'states-answer', detail };
  }
  return {
    accepted: false,
    reason: 'leaks-problem-specifics',
    detail: `mentions ${leakage.offendingTokens.join(', ')}`,
  };
}

/** "replay answered 12, expected 13", and why when the verifier scored it 0 unjudged (too large, timed out). */
function wrongReplayDetail(check: Verification, groundTruth: string): string {
  const unjudged =
    check.reason === 'not-equivalent' || check.reason === 'no-answer' ? '' : ` (${check.reason})`;
  return `replay answered ${check.extracted ?? '(no answer found)'}, expected ${groundTruth}${unjudged}`;
}
