/**
 * Sends one step's stored datums to the training engine so that its next optimizer step follows the paper's
 * objective (Eq. 9) under the engine's loss reduction (mel/objective.ts), and reads the step's losses back.
 */
import type { Loss, TrainingEngine } from '../engine/engine.js';
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

export async function accumulateStepObjective(
  engine: TrainingEngine,
  modelId: string,
  stored: { grpo: readonly Datum[]; nll: readonly Datum[] },
  surrogate: SurrogateConfig,
): Promise<StepObjectiveLosses> {
  const { grpo, nll } = stored;
  const datumCount = grpo.length + nll.length;
  const reduction = engine.lossReduction;
  const current =
    nll.length > 0 && nllNeedsCurrentLogprobs(reduction)
      ? (await engine.forward({ modelId, data: nll })).perDatum.map((d) => d.logprobs)
      : undefined;

  const send = (call: EngineCall) =>
    engine.forwardBackward({ modelId, data: call.data, loss: lossOf(call, surrogate) });
  const grpoOut = grpo.length ? await send(grpoCall(reduction, surrogate.lossFn, grpo, datumCount)) : null;
  const nllOut = nll.length ? await send(nllCall(reduction, nll, datumCount, current)) : null;

  const nllLogprobs = current ?? nllOut?.perDatum.map((d) => d.logprobs) ?? [];
  return {
    grpoLoss: grpoOut
      ? surrogateLoss(
          grpo,
          grpoOut.perDatum.map((d) => d.logprobs),
          surrogate,
        )
      : null,
    nllPerDatum: nll.map((datum, i) => datumNll(datum, nllLogprobs[i] ?? [])),
  };
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
