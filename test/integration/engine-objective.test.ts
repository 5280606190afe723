/**
 * The step objective on the real SkyRL engine (mel/objective.ts, activities/step-objective.ts). Where Eq. 9 and
 * SkyRL's own reduction coincide, the datums the policy update sends must move the model exactly as SkyRL's native
 * reduction of the plain datums does:
 *  - an NLL-only step: Eq. 7 is SkyRL's mean of per-datum token means, so the meta-experiences sent as
 *    importance-sampling datums at the current logprobs must move the model as cross_entropy does;
 *  - a GRPO-only step with a zero-advantage rollout: sent natively it adds 0 and counts 1 in SkyRL's mean; the
 *    project leaves it out and folds its count into the other rollout's advantages;
 *  - a MEL step whose GRPO datums went first, scaled for more NLL datums than it then has: the zero-weight datums
 *    that make up the count must leave it as the same step sent at once.
 * Two models from the same seed take one step each; their logprobs of every target then agree, and both moved.
 */
import { describe, expect, it } from 'vitest';
import {
  accumulateGrpo,
  accumulateNllAfterGrpo,
  accumulateStepObjective,
} from '../../activities/step-objective.js';
import { onePage } from '../../common/pages.js';
import type { AdamParams, Datum, Loss } from '../../engine/engine.js';
import type { ModelTokenizer } from '../../engine/model-files.js';
import { nllDatums, rolloutDatums, singleCallNllExample } from '../../mel/index.js';
import {
  completionDatum,
  modelFactory,
  promptTokens,
  tinkerClient,
  tinyTokenizer,
} from './engine-helpers.js';

const engine = tinkerClient();
const newModel = modelFactory(engine);
const ADAM: AdamParams = { learningRate: 5e-3 };
const PPO = { lossFn: 'ppo' as const, clipLow: 0.8, clipHigh: 1.2 };

async function logprobsOf(modelId: string, data: readonly Datum[]): Promise<number[][]> {
  return (await engine.forward({ modelId, data })).perDatum.map((d) => d.logprobs);
}

/** SkyRL's native reduction of `native`'s datums. */
const natively =
  (native: { data: Datum[]; loss: Loss }) =>
  (modelId: string): Promise<unknown> =>
    engine.forwardBackward({ modelId, ...native });

/** One step of a reference's datums and one of the project's, from models of the same seed. */
async function stepBoth(
  probe: readonly Datum[],
  reference: (modelId: string) => Promise<unknown>,
  project: (modelId: string) => Promise<unknown>,
  adam: AdamParams = ADAM,
) {
  const nativeModel = await newModel(7);
  const projectModel = await newModel(7);
  const before = (await logprobsOf(nativeModel, probe)).flat();
  expect((await logprobsOf(projectModel, probe)).flat()).toEqual(before);
  await reference(nativeModel);
  await engine.optimStep({ modelId: nativeModel, adam });
  await project(projectModel);
  await engine.optimStep({ modelId: projectModel, adam });
  const after = {
    native: (await logprobsOf(nativeModel, probe)).flat(),
    project: (await logprobsOf(projectModel, probe)).flat(),
  };
  const moved = Math.max(...after.native.map((v, i) => Math.abs(v - before[i]!)));
  const apart = Math.max(...after.project.map((v, i) => Math.abs(v - after.native[i]!)));
  expect(moved).toBeGreaterThan(1e-3);
  expect(apart).toBeLessThan(moved / 100);
}

/**
 * Rollouts of `prompt` as SkyRL takes them natively (every rollout, with its advantage) and as the project sends
 * them (Eq. 10, the zero-advantage ones counted but not sent), with the sampler logprobs of a model of seed 7.
 */
async function grpoDatums(prompt: number[], rollouts: { completion: number[]; advantage: number }[]) {
  const reference = await newModel(7);
  const samplerLogprobs = (
    await logprobsOf(
      reference,
      rollouts.map((r) => completionDatum({ prompt, ...r })),
    )
  ).map((logprobs) => logprobs.slice(prompt.length - 1));
  const native = rollouts.map((r, i) =>
    completionDatum({ prompt, ...r, samplerLogprobs: samplerLogprobs[i] }),
  );
  const informative = rollouts.flatMap((r, i) =>
    r.advantage === 0
      ? []
      : [
          {
            promptTokens: prompt,
            completionTokens: r.completion,
            completionLogprobs: samplerLogprobs[i]!,
            advantage: r.advantage,
          },
        ],
  );
  const sent = rolloutDatums(informative, 'seq-mean-token-mean', {
    rollouts: rollouts.length,
    completionTokens: rollouts.reduce((n, r) => n + r.completion.length, 0),
  });
  return { native, sent };
}

const completionOf = (tokenizer: ModelTokenizer, text: string) => tokenizer.encode(`${text}<|im_end|>`);

describe('the step objective on SkyRL', () => {
  it('an NLL-only step moves the model as SkyRL’s own mean of token means (Eq. 7)', async () => {
    const tokenizer = await tinyTokenizer();
    const prompt = promptTokens(tokenizer);
    const completions = ['2 + 3 = 5', 'Add two and three: 5. So the answer is 5'].map((text) =>
      completionOf(tokenizer, text),
    );
    const nll = nllDatums(completions.map((completion) => singleCallNllExample(prompt, completion)));
    const plain = completions.map((completion) => completionDatum({ prompt, completion }));
    await stepBoth(plain, natively({ data: plain, loss: { fn: 'cross_entropy' } }), (modelId) =>
      accumulateStepObjective(engine, modelId, { grpo: [], nll }, PPO),
    );
  });

  it('a GRPO step weighs rollouts of different lengths as Eq. 10 and counts the zero-advantage one it does not send', async () => {
    const tokenizer = await tinyTokenizer();
    const prompt = promptTokens(tokenizer);
    const rollouts = [
      { completion: completionOf(tokenizer, '2 + 3 = 5'), advantage: 1 },
      { completion: completionOf(tokenizer, '2 + 3 = 6'), advantage: 0 },
      { completion: completionOf(tokenizer, 'The sum of two and three is six'), advantage: -1 },
    ];
    const { native, sent } = await grpoDatums(prompt, rollouts);
    await stepBoth(
      native,
      natively({ data: native, loss: { fn: 'ppo', clipLowThreshold: 0.8, clipHighThreshold: 1.2 } }),
      (modelId) => accumulateStepObjective(engine, modelId, { grpo: sent, nll: [] }, PPO),
    );
  });

  it('a MEL step whose GRPO half went first, scaled for more NLL datums than were accepted, moves the model as the step sent at once', async () => {
    const tokenizer = await tinyTokenizer();
    const prompt = promptTokens(tokenizer);
    const { sent: grpo } = await grpoDatums(prompt, [
      { completion: completionOf(tokenizer, '2 + 3 = 5'), advantage: 1 },
      { completion: completionOf(tokenizer, 'The sum of two and three is six'), advantage: -1 },
    ]);
    const nll = nllDatums(
      ['Check the sum before answering', 'Add the units first'].map((text) =>
        singleCallNllExample(prompt, completionOf(tokenizer, text)),
      ),
    );
    // Scaled for 4 pairs of which 2 were accepted. Adam's step is proportional to the gradient when eps dwarfs it,
    // so a wrong datum count (every coefficient 6/4 of Eq. 9's) shows, as it would not in Adam's usual step.
    const bound = grpo.length + nll.length + 2;
    const proportional: AdamParams = { learningRate: 0.5, eps: 1 };
    await stepBoth(
      [...grpo, ...nll],
      (modelId) => accumulateStepObjective(engine, modelId, { grpo, nll }, PPO),
      async (modelId) => {
        await accumulateGrpo(engine, modelId, { count: grpo.length, pages: onePage(grpo) }, bound, PPO);
        const sent = { grpoDatums: grpo.length, stepDatums: bound };
        expect((await accumulateNllAfterGrpo(engine, modelId, nll, sent)).countOnlyDatums).toBe(2);
      },
      proportional,
    );
  });
});
