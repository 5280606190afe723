/**
 * Sends one step's stored datums to the training engine so that its next optimizer step follows the paper's
 * objective (Eq. 9) under the engine's loss reduction (mel/objective.ts), and reads the step's losses back.
 */
import { onePage, type Paged } from '../common/pages.js';
import type { ForwardOutput, Loss, TrainingEngine } from '../engine/engine.js';
import {
  countOnlyDatums,
  datumNll,
  dividesByDatumCount,
  grpoCall,
  nllCall,
  nllNeedsCurrentLogprobs,
  surrogateLoss,
  type Datum,
  type DatumNll,
  type EngineCall,
  type SurrogateConfig,
} from '../mel/index.js';

export interface StepObjectiveLosses {
  /** −J_GRPO at the policy before the update; null without GRPO datums. */
  grpoLoss: number | null;
  /** Each NLL datum's token-mean NLL at the policy before the update. */
  nllPerDatum: DatumNll[];
}

/**
 * How much one request may carry. A paper-scale step is hundreds of MB of datums, past what one HTTP body should
 * (and near Node's string limit); tinker-cookbook splits its requests likewise. The engine accumulates the
 * gradient over all of a step's requests until optim_step, and the objective counts every datum of the step
 * whichever request carries it, so splitting does not change the update.
 */
export interface RequestLimits {
  maxDatums: number;
  /** Estimated as the datums' JSON length. */
  maxBytes: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = { maxDatums: 1024, maxBytes: 5_000_000 };

/**
 * The GRPO datums may come a page at a time (`Paged`), so that a paper-scale step is never in memory at once:
 * the normalisation needs only their count, and each page's requests and its share of the loss are done before
 * the next page is used.
 */
export async function accumulateStepObjective(
  engine: TrainingEngine,
  modelId: string,
  stored: { grpo: Datum[] | Paged<Datum>; nll: readonly Datum[] },
  surrogate: SurrogateConfig,
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
): Promise<StepObjectiveLosses> {
  const grpo = Array.isArray(stored.grpo)
    ? { count: stored.grpo.length, pages: onePage(stored.grpo) }
    : stored.grpo;
  const datumCount = grpo.count + stored.nll.length;
  const grpoLoss = await accumulateGrpo(engine, modelId, grpo, datumCount, surrogate, limits);
  const nllPerDatum = await accumulateNll(engine, modelId, stored.nll, datumCount, limits);
  return { grpoLoss, nllPerDatum };
}

/**
 * The GRPO half: the step's GRPO datums sent for their gradient, in a step of `datumCount` datums in all; −J_GRPO
 * at the policy before the update (null without GRPO datums). Sent before the step's NLL datums are counted
 * (activities/policy.ts, `accumulateGrpoGradients`), `datumCount` is a bound that `accumulateNllAfterGrpo` makes
 * exact; under the `sum` reduction the count scales nothing.
 */
export async function accumulateGrpo(
  engine: TrainingEngine,
  modelId: string,
  grpo: Paged<Datum>,
  datumCount: number,
  surrogate: SurrogateConfig,
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
): Promise<number | null> {
  let grpoLoss = 0;
  let grpoSent = 0;
  for await (const page of grpo.pages) {
    if (page.length === 0) continue;
    const call = grpoCall(engine.lossReduction, surrogate.lossFn, page, datumCount);
    const logprobs = await inRequests(limits, call.data, (data) =>
      engine.forwardBackward({ modelId, data, loss: lossOf(call, surrogate) }),
    );
    grpoLoss += surrogateLoss(page, logprobs, surrogate);
    grpoSent += page.length;
  }
  if (grpoSent !== grpo.count) {
    throw new Error(`the step counts ${grpo.count} GRPO datums, but ${grpoSent} were read`);
  }
  return grpo.count > 0 ? grpoLoss : null;
}

/**
 * The NLL half: the step's NLL datums sent for their gradient (after a forward pass for the policy's current
 * logprobs where the reduction needs them; the forward changes no gradient), and each one's token-mean NLL.
 */
export async function accumulateNll(
  engine: TrainingEngine,
  modelId: string,
  nll: readonly Datum[],
  datumCount: number,
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
): Promise<DatumNll[]> {
  if (nll.length === 0) return [];
  const reduction = engine.lossReduction;
  const current = nllNeedsCurrentLogprobs(reduction)
    ? await inRequests(limits, nll, (data) => engine.forward({ modelId, data }))
    : undefined;
  const call = nllCall(reduction, nll, datumCount, current);
  const sent = await inRequests(limits, call.data, (data) =>
    engine.forwardBackward({ modelId, data, loss: { fn: call.lossFn } }),
  );
  const logprobs = current ?? sent;
  return nll.map((datum, i) => datumNll(datum, logprobs[i] ?? []));
}

/** How a step's GRPO half was sent ahead of its NLL half (`accumulateGrpo`). */
export interface SentGrpoHalf {
  grpoDatums: number;
  /** The step's datum count the GRPO datums were scaled for: at least its GRPO and NLL datums together. */
  stepDatums: number;
}

/**
 * The NLL half of a step whose GRPO half went first, scaled for `sent.stepDatums` datums before the NLL datums
 * were counted. Where the engine divides the gradient by the number of datums (SkyRL), the datums the NLL half
 * falls short of that count follow as count-only datums, in requests of their own (one token each, so they cost
 * nothing beside the NLL datums' lengths): the divisor is then the count both halves were scaled for.
 */
export async function accumulateNllAfterGrpo(
  engine: TrainingEngine,
  modelId: string,
  nll: readonly Datum[],
  sent: SentGrpoHalf,
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
): Promise<{ nllPerDatum: DatumNll[]; countOnlyDatums: number }> {
  const shortfall = sent.stepDatums - sent.grpoDatums - nll.length;
  const counted = dividesByDatumCount(engine.lossReduction);
  if (counted && shortfall < 0) {
    throw new Error(
      `the step has ${nll.length} NLL datums, more than the ${sent.stepDatums - sent.grpoDatums} ` +
        'its GRPO datums were scaled for',
    );
  }
  const nllPerDatum = await accumulateNll(engine, modelId, nll, sent.stepDatums, limits);
  const countOnly = counted ? shortfall : 0;
  if (countOnly > 0) {
    await inRequests(limits, countOnlyDatums(countOnly), (data) =>
      engine.forwardBackward({ modelId, data, loss: { fn: 'cross_entropy' } }),
    );
  }
  return { nllPerDatum, countOnlyDatums: countOnly };
}

/** Each datum's target logprobs, from `request` sent over `data` in requests within `limits`. */
async function inRequests(
  limits: RequestLimits,
  data: readonly Datum[],
  request: (part: Datum[]) => Promise<ForwardOutput>,
): Promise<number[][]> {
  const logprobs: number[][] = [];
  for (const part of requestChunks(data, limits)) {
    logprobs.push(...(await request(part)).perDatum.map((d) => d.logprobs));
  }
  return logprobs;
}

/** `datums` in order, in runs within `limits` (a datum over maxBytes alone goes in a request of its own). */
export function requestChunks(datums: readonly Datum[], limits: RequestLimits): Datum[][] {
  const chunks: Datum[][] = [];
  let chunk: Datum[] = [];
  let bytes = 0;
  for (const datum of datums) {
    const size = JSON.stringify(datum).length;
    if (chunk.length > 0 && (chunk.length >= limits.maxDatums || bytes + size > limits.maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(datum);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

function lossOf(call: EngineCall, surrogate: SurrogateConfig): Loss {
  if (call.lossFn === 'ppo' || call.lossFn === 'cispo') {
    return {
      fn: call.lossFn,
      clipLowThreshold: surrogate.clipLow,
      clipHighThreshold: surrogate.clipHigh,
    };
  }
  return { fn: call.lossFn };
}
