/** The MEL loop proper: contrastive pairs, meta-experience generation, and validation by replay. */
import {
  chainedMetaExperienceMessages,
  checkLeakage,
  decideReplays,
  gateForReplay,
  replaySeedItem,
  replaySettings,
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
  type MetaExperienceParse,
  type Problem,
  groupSamples,
} from '../mel/index.js';
import {
  ids,
  stepScope,
  type GenerationTurn,
  type SampledTurn,
  type LeakageRecord,
  type MetaExperienceDoc,
  type PairDoc,
  type SampledReplay,
} from '../store/documents.js';
import type { ReflectionEngine } from '../engine/engine.js';
import { melCollections } from '../store/collections.js';
import { stepReads } from '../store/step-reads.js';
import { encodeTokens, storedTurn } from '../store/token-codec.js';
import { insertAbsent, replaceAll, setOnce } from '../store/writes.js';
import type { PolicyRef } from '../temporal/contracts/common.js';
import type {
  ContrastSummary,
  SamplingChunkRef,
  StepRef,
  SummarizeSummary,
  ValidateSummary,
} from '../temporal/contracts/run.js';
import type { RunConfig } from '../mel/run-config.js';
import { pairSamplingSeed, samplingSeed } from '../mel/schedule.js';
import { isolateItem, sampleOneItem, type ItemOutcome } from './isolation.js';
import { sampledBy } from './sample-provenance.js';
import { loadRun, mapWithProgress, origin, type MelActivityDeps } from './support.js';

/** One sampled turn of a reflection, and the sampler that wrote it (none for an external reflector). */
interface ReflectionOutput {
  turn: Omit<SampledTurn, 'promptTokens'>;
  samplerPath: string | undefined;
}

/** What the parse and the replay gate read of a turn. */
type TurnText = Pick<GenerationTurn, 'text' | 'stopReason'>;

const GENERATIONS_IN_FLIGHT = 4;

export function createReflectActivities(deps: MelActivityDeps) {
  const { db, tokenizer } = deps;
  const { prompts, trajectories, pairs, metaExperiences, writeOnce } = melCollections(db);
  const reads = stepReads(db);

  /** (correct, incorrect) pairs of every mixed group, all or a seeded sample (paper §3.2). */
  async function contrast({ runId, step }: StepRef): Promise<ContrastSummary> {
    const run = await loadRun(db, runId);
    const problems = await reads.problems(runId, step);
    const groups = groupSamples(await reads.rewards(runId, step));
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
        problemId: problems.get(promptId)?.id ?? '',
        positiveTrajectoryId: ids.trajectory(promptId, pair.positiveIndex),
        negativeTrajectoryId: ids.trajectory(promptId, pair.negativeIndex),
        origin: source,
      })),
    );
    await replaceAll(pairs, stepScope(runId, step), docs);
    return { pairs: docs.length };
  }

  /** The policy writes a meta-experience for each pair; it is parsed and checked for leakage. */
  async function summarize({ runId, step, policy, items }: SamplingChunkRef): Promise<SummarizeSummary> {
    const run = await loadRun(db, runId);
    const stepPairs = await reads.pairsOf(runId, step, items);
    const inFlight = items ? stepPairs.length : GENERATIONS_IN_FLIGHT;
    const results = await mapWithProgress('summarize', stepPairs, inFlight, async (pair) => {
      const id = ids.metaExperience(pair._id);
      const existing = await metaExperiences.findOne({ _id: id });
      // Write-once: a stored candidate stands, also one whose reflection the engine could not give (a refusal or an
      // unusable sample is the item's; an outage fails the attempt instead and stores nothing).
      if (existing) return existing;
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
    const author = deps.reflection
      ? { reflector: deps.reflection.name }
      : { sampledBy: sampledBy(deps.engineId, policy) };
    const parse = failure ? notSampled(failure) : parseTurns(config, turns);
    const stored = parse.ok ? parse : { ok: false as const, reason: parse.reason };
    // The leakage check reads what the replay will see; a candidate its gate keeps from replay has none.
    const gate = failure ? undefined : gateOf(config, stored, turns);
    const leakage = gate?.replay ? await checkForReplay(config, gate.experience, prompt.problem) : undefined;
    const doc: MetaExperienceDoc = {
      _id: id,
      runId: pair.runId,
      step: pair.step,
      promptId: pair.promptId,
      pairId: pair._id,
      problemId: pair.problemId,
      mode: config.mel.metaExperience.mode,
      generation: {
        turns: turns.map(storedTurn),
        seed,
        samplerPath,
        ...author,
        ...(failure ? { failure } : {}),
      },
      parse: stored,
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
    const turns: SampledTurn[] = [];
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
    // A reply cut by the token limit did not end its turn: its target ends where the text does, as a sampled one.
    const end = reply.stopReason === 'stop' ? [tokenizer.eosTokenId] : [];
    const turn = {
      outputTokens: [...tokenizer.encode(reply.text), ...end],
      text: reply.text,
      stopReason: reply.stopReason,
    };
    return { ok: true, value: { turn, samplerPath: undefined } };
  }

  function chainedPromptTokens(messages: ChatMessage[], earlier: SampledTurn[]): number[] {
    const last = earlier.at(-1);
    if (!last) return tokenizer.encode(renderGenerationPrompt(messages));
    // Continue from the exact sampled tokens, so the whole chain is one token sequence for the NLL datum.
    return [
      ...last.promptTokens,
      ...last.outputTokens,
      ...tokenizer.encode(renderContinuation(messages.slice(-1))),
    ];
  }

  /** The leakage check of everything the replay will see (`experience`), with the run's leakage policy and verifier. */
  async function checkForReplay(
    config: RunConfig,
    experience: string,
    problem: Problem,
  ): Promise<LeakageRecord> {
    const settings = { leakage: config.mel.metaExperience.leakage, verifier: config.mel.verifier };
    const { report, rejected } = await checkLeakage(experience, problem, deps.compareSymbolically, settings);
    return { ...report, rejected };
  }

  function parseTurns(config: RunConfig, turns: TurnText[]): MetaExperienceParse {
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
  async function validate({ runId, step, policy, items }: SamplingChunkRef): Promise<ValidateSummary> {
    const run = await loadRun(db, runId);
    const candidates = await reads.candidatesOf(runId, step, items);
    const verdicts = await mapWithProgress(
      'validate',
      candidates,
      items ? candidates.length : GENERATIONS_IN_FLIGHT,
      async (candidate) => {
        const verdict = candidate.verdict ?? (await judge(run.config, policy, candidate));
        return verdict.accepted;
      },
    );
    const accepted = verdicts.filter(Boolean).length;
    return { accepted, rejected: verdicts.length - accepted };
  }

  async function judge(config: RunConfig, policy: PolicyRef, candidate: MetaExperienceDoc) {
    // Write-once: the verdict written first (a stale attempt's late write too) stands, with its replays.
    const setVerdict = async (update: Pick<MetaExperienceDoc, 'verdict' | 'validation' | 'laterReplays'>) => {
      const fields = { ...update, 'origin.validate': origin() };
      const [stored] = await setOnce(writeOnce, metaExperiences, 'verdict', [{ id: candidate._id, fields }]);
      return stored!.verdict!;
    };
    const { failure } = candidate.generation;
    if (failure) return setVerdict({ verdict: samplingFailed('reflection', failure) });
    const gate = gateOf(config, candidate.parse, candidate.generation.turns);
    if (!gate.replay)
      return setVerdict({ verdict: { accepted: false, reason: gate.reason, detail: gate.detail } });
    const prompt = await prompts.findOne({ _id: candidate.promptId });
    if (!prompt) throw new Error(`candidate ${candidate._id} has no prompt document`);
    const { problem } = prompt;
    // A candidate summarized before answer statements were looked for is checked now, before its replay.
    const leakage =
      candidate.leakage?.answerStatements !== undefined
        ? candidate.leakage
        : await checkForReplay(config, gate.experience, problem);
    const checked = leakage === candidate.leakage ? {} : { leakage };
    if (leakage.rejected) return setVerdict({ ...checked, verdict: leakageVerdict(leakage, problem) });
    const promptText = renderGenerationPrompt(validationMessages(gate.experience, problem));
    const promptTokens = tokenizer.encode(promptText);
    const { temperature, maxTokens } = config.sampling.validation;
    const { replays: count, minCorrect } = replaySettings(config.mel);
    const item = ids.withinRun(candidate.runId, candidate._id);
    // The replays are sampled one after another, all of them (the record says how each went), then judged together.
    const replays: SampledReplay[] = [];
    for (let index = 0; index < count; index++) {
      const seed = samplingSeed(config.seed, candidate.step, 'validate', replaySeedItem(item, index));
      const replayed = await sampleOneItem(deps, policy, { promptTokens, maxTokens, temperature, seed });
      if (!replayed.ok) {
        const which = count === 1 ? 'replay' : `replay ${index + 1} of ${count}`;
        return setVerdict({
          ...checked,
          ...replayFields(replays),
          verdict: samplingFailed(which, replayed.exclusion),
        });
      }
      const { sequence, text } = replayed.value;
      const check = await verifySolution(text, problem.answer, deps.compareSymbolically, config.mel.verifier);
      replays.push({
        promptText,
        tokens: sequence.tokens,
        text,
        stopReason: sequence.stopReason,
        seed,
        extractedAnswer: check.extracted,
        groundTruth: problem.answer,
        correct: check.correct,
        verifierReason: check.reason,
        sampledBy: sampledBy(deps.engineId, policy),
      });
    }
    const decision = decideReplays(replays, minCorrect, problem.answer);
    const unparsed = gate.unparsed === undefined ? '' : `; replayed unparsed (${gate.unparsed})`;
    return setVerdict({
      ...checked,
      ...replayFields(replays),
      verdict: {
        accepted: decision.accepted,
        reason: decision.accepted ? 'replay-verified' : 'replay-wrong-answer',
        detail: `${decision.detail}${unparsed}`,
      },
    });
  }

  /** Whether the candidate is replayed under the run's gate, and with which text. */
  function gateOf(config: RunConfig, parse: MetaExperienceDoc['parse'], turns: TurnText[]) {
    const { gate } = replaySettings(config.mel);
    return gateForReplay(
      gate,
      parse,
      turns.map((turn) => turn.text),
    );
  }

  return { contrast, summarize, validate };
}

/** A candidate whose reflection or replay the engine could not give: rejected with why, the step goes on. */
function samplingFailed(what: string, failure: Exclusion): NonNullable<MetaExperienceDoc['verdict']> {
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

/** The first replay where it has always been stored, the others after it (none when there is one). */
function replayFields(replays: SampledReplay[]): Pick<MetaExperienceDoc, 'validation' | 'laterReplays'> {
  const [first, ...later] = replays.map((replay) => ({ ...replay, tokens: encodeTokens(replay.tokens) }));
  return { ...(first ? { validation: first } : {}), ...(later.length > 0 ? { laterReplays: later } : {}) };
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
