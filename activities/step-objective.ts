/**
 * Sends one step's stored datums to the training engine so that its next optimizer step follows the paper's
 * objective (Eq. 9) under the engine's loss reduction (mel/objective.ts), and reads the step's losses back.
 */
import { onePage, type Paged } from '../common/pages.js';
import type { ForwardOutput, Loss, TrainingEngine } from '../engine/engine.js';
import {
  datumNll,
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
  const { nll } = stored;
  const grpo =
    'pages' in stored.grpo ? stored.grpo : { count: stored.grpo.length, pages: onePage(stored.grpo) };
  const datumCount = grpo.count + nll.length;
  const reduction = engine.lossReduction;
  const inRequests = async (data: readonly Datum[], request: (part: Datum[]) => Promise<ForwardOutput>) => {
    const logprobs: number[][] = [];
    for (const part of requestChunks(data, limits)) {
      logprobs.push(...(await request(part)).perDatum.map((d) => d.logprobs));
    }
    return logprobs;
  };
  const current =
    nll.length > 0 && nllNeedsCurrentLogprobs(reduction)
      ? await inRequests(nll, (data) => engine.forward({ modelId, data }))
      : undefined;
  const send = (call: EngineCall) =>
    inRequests(call.data, (data) => engine.forwardBackward({ modelId, data, loss: lossOf(call, surrogate) }));

  let grpoLoss = 0;
  let grpoSent = 0;
  for await (const page of grpo.pages) {
    if (page.length === 0) continue;
    const logprobs = await send(grpoCall(reduction, surrogate.lossFn, page, datumCount));
    grpoLoss += surrogateLoss(page, logprobs, surrogate);
    grpoSent += page.length;
  }
  if (grpoSent !== grpo.count) {
    throw new Error(`the step counts ${grpo.count} GRPO datums, but ${grpoSent} were read`);
  }
  const nllOut = nll.length ? await send(nllCall(reduction, nll, datumCount, current)) : [];
  const nllLogprobs = current ?? nllOut;
  return {
    grpoLoss: grpo.count > 0 ? grpoLoss : null,
    nllPerDatum: nll.map((datum, i) => datumNll(datum, nllLogprobs[i] ?? [])),
  };
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
