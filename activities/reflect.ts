/** The MEL loop proper: contrastive pairs, meta-experience generation, and validation by replay. */
import {
  applyLeakagePolicy,
  chainedMetaExperienceMessages,
  metaExperienceMessagesFor,
  parseChainedMetaExperience,
  parseMetaExperience,
  renderContinuation,
  renderGenerationPrompt,
  selectContrastivePairs,
  validationMessages,
  verifySolution,
  CHAINED_STEP_COUNT,
  type ChatMessage,
  type ContrastiveInput,
  type MetaExperienceParse,
  type Verification,
  groupRewards,
} from '../mel/index.js';
import { ids, type GenerationTurn, type MetaExperienceDoc, type PairDoc } from '../store/documents.js';
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
import { samplingSeed } from '../mel/schedule.js';
import { sampleOneWithPolicy } from './policy.js';
import { loadRun, mapWithProgress, origin, type MelActivityDeps } from './support.js';

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
    const groups = groupRewards(await rewards.find({ runId, step }).toArray());
    const source = origin();
    const docs: PairDoc[] = [...groups].flatMap(([promptId, groupRewards]) =>
      selectContrastivePairs(groupRewards, ids.withinRun(runId, promptId), {
        ...run.config.mel.pairs,
        seed: run.config.seed,
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
      return existing ?? (await generateCandidate(run.config, policy, pair, id));
    });
    return {
      candidates: results.length,
      parsed: results.filter((doc) => doc.parse.ok).length,
      leaking: results.filter((doc) => doc.leakage?.leaked).length,
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
    const { turns, samplerPath } = await generateTurns(config, policy, input, seed);
    const reflector = deps.reflection ? { reflector: deps.reflection.name } : {};
    const parse = parseTurns(config, turns);
    const leakage = parse.ok
      ? applyLeakagePolicy(parse.metaExperience, prompt.problem, config.mel.metaExperience.leakage)
      : undefined;
    const doc: MetaExperienceDoc = {
      _id: id,
      runId: pair.runId,
      step: pair.step,
      promptId: pair.promptId,
      pairId: pair._id,
      problemId: pair.problemId,
      mode: config.mel.metaExperience.mode,
      generation: { turns, seed, samplerPath, ...reflector },
      parse: parse.ok ? parse : { ok: false, reason: parse.reason },
      ...(leakage ? { leakage: { ...leakage.report, rejected: leakage.rejected } } : {}),
      origin: { summarize: origin() },
    };
    // Write-once: a candidate stored first (by a stale attempt's late write too) stands, with its verdict.
    if ((await insertAbsent(metaExperiences, [doc])).has(id)) return doc;
    return (await metaExperiences.findOne({ _id: id }))!;
  }

  /** One turn (single-call, Appendix C) or three (chained, Eqs. 2–4), each continuing the last token for token. */
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
      samplerPath = output.samplerPath ?? samplerPath;
      turns.push({ promptTokens, ...output.turn });
      if (output.turn.stopReason === 'length') break;
    }
    return { turns, samplerPath };
  }

  /** The paper's way: the policy itself writes the meta-experience. */
  async function reflectWithPolicy(
    config: RunConfig,
    policy: PolicyRef,
    promptTokens: number[],
    seed: number,
  ) {
    const { temperature, maxTokens } = config.sampling.reflection;
    const { sequence, text, samplerPath } = await sampleOneWithPolicy(deps, policy, {
      promptTokens,
      maxTokens,
      temperature,
      seed,
    });
    const turn = { outputTokens: sequence.tokens, text, stopReason: sequence.stopReason };
    return { turn, samplerPath };
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
  ) {
    const { temperature, maxTokens } = config.sampling.reflection;
    const [reply] = await reflection.chat({ messages, numSamples: 1, maxTokens, temperature, seed });
    if (!reply) throw new Error('the reflection engine returned no completion');
    const turn = {
      outputTokens: [...tokenizer.encode(reply.text), tokenizer.eosTokenId],
      text: reply.text,
      stopReason: reply.stopReason,
    };
    return { turn, samplerPath: undefined };
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
        const verdict = candidate.verdict ?? (await judge(run.config, policy, candidate));
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
    if (!candidate.parse.ok) {
      return setVerdict({
        verdict: { accepted: false, reason: 'unparseable', detail: candidate.parse.reason },
      });
    }
    if (candidate.leakage?.rejected) {
      const detail = `mentions ${candidate.leakage.offendingTokens.join(', ')}`;
      return setVerdict({ verdict: { accepted: false, reason: 'leaks-problem-specifics', detail } });
    }
    const prompt = await prompts.findOne({ _id: candidate.promptId });
    if (!prompt) throw new Error(`candidate ${candidate._id} has no prompt document`);
    const promptText = renderGenerationPrompt(
      validationMessages(candidate.parse.metaExperience.rawText, prompt.problem),
    );
    const seed = samplingSeed(
      config.seed,
      candidate.step,
      'validate',
      ids.withinRun(candidate.runId, candidate._id),
    );
    const { temperature, maxTokens } = config.sampling.validation;
    const { sequence: replay, text } = await sampleOneWithPolicy(deps, policy, {
      promptTokens: tokenizer.encode(promptText),
      maxTokens,
      temperature,
      seed,
    });
    const check = await verifySolution(
      text,
      prompt.problem.answer,
      deps.compareSymbolically,
      config.mel.verifier,
    );
    return setVerdict({
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

/** "replay answered 12, expected 13", and why when the verifier scored it 0 unjudged (too large, timed out). */
function wrongReplayDetail(check: Verification, groundTruth: string): string {
  const unjudged =
    check.reason === 'not-equivalent' || check.reason === 'no-answer' ? '' : ` (${check.reason})`;
  return `replay answered ${check.extracted ?? '(no answer found)'}, expected ${groundTruth}${unjudged}`;
}
