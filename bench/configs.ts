/**
 * What the benchmark measures: one configuration per measured setting, and the sweeps (default, quick). Pure.
 */

export type BenchSystem = 'mel-temporal' | 'tinker-cookbook';
export type BenchMode = 'mel' | 'grpo';

export interface BenchConfig {
  system: BenchSystem;
  mode: BenchMode;
  /** 'zero' or a named latency profile of the engine double. */
  latencyModel: string;
  /** Inference engines (doubles sharing a checkpoint directory), an inference worker next to each. */
  engines: number;
  /** Sequence slots of each engine, instead of the latency model's (absent: the model's). */
  engineSlots?: number;
  /** fanOut.promptsPerChunk of the run (absent: the run configuration's default). */
  promptsPerChunk?: number;
  batchSize: number;
  groupSize: number;
  meanRolloutTokens: number;
  /** At most this many (correct, wrong) pairs per mixed group; null: all pairs. */
  pairsCap: number | null;
  /**
   * The engine sums the step's loss over datums, as hosted Tinker does (absent: SkyRL's per-datum reduction, the
   * engine double's default).
   */
  lossReduction?: 'sum';
  steps: number;
}

export interface SweepOptions {
  /** The realistic latency profile measured beside zero latency. */
  profile: string;
}

const GROUP_SIZE = 8;
const STEPS = 5;

export function configLabel(config: BenchConfig): string {
  const pairs = config.mode === 'grpo' ? '' : `-p${config.pairsCap ?? 'all'}`;
  const tokens =
    config.meanRolloutTokens % 1000 === 0
      ? `${config.meanRolloutTokens / 1000}k`
      : `${config.meanRolloutTokens}`;
  const engines =
    config.engines > 1 || config.engineSlots !== undefined
      ? `-e${config.engines}${config.engineSlots === undefined ? '' : `x${config.engineSlots}slots`}`
      : '';
  return (
    `${config.system}/${config.mode}/${config.latencyModel}/` +
    `b${config.batchSize}-g${config.groupSize}-t${tokens}${pairs}${engines}` +
    `${config.lossReduction ? `-${config.lossReduction}` : ''}-${config.steps}st`
  );
}

function melTemporal(partial: Partial<BenchConfig> & Pick<BenchConfig, 'batchSize'>): BenchConfig {
  return {
    system: 'mel-temporal',
    mode: 'mel',
    latencyModel: 'zero',
    engines: 1,
    groupSize: GROUP_SIZE,
    meanRolloutTokens: 1000,
    pairsCap: 3,
    steps: STEPS,
    ...partial,
  };
}

/** The same GRPO step three ways: tinker-cookbook, mel-temporal with MEL off, and with MEL on. */
function sideBySide(
  batchSize: number,
  latencyModel: string,
  steps: number,
  meanRolloutTokens = 1000,
): BenchConfig[] {
  const sized = { batchSize, latencyModel, steps, meanRolloutTokens };
  const grpo = melTemporal({ ...sized, mode: 'grpo', pairsCap: null });
  return [{ ...grpo, system: 'tinker-cookbook' }, grpo, melTemporal(sized)];
}

/**
 * The issue's sweep: batch 16, 64, 128, 512 × G = 8 × mean rollout 1k and 4k tokens × pairs capped at 3 and
 * uncapped, 5 steps each, under zero latency and the realistic profile; the side-by-side GRPO comparison per batch
 * size and rollout length; MEL at 128 × 8 × 1k on an engine that sums the loss; and long runs of 100 steps at 16
 * and 128 × 8 × 1k.
 */
export function defaultSweep({ profile }: SweepOptions): BenchConfig[] {
  const grid: BenchConfig[] = [];
  for (const latencyModel of ['zero', profile]) {
    for (const batchSize of [16, 64, 128, 512]) {
      for (const meanRolloutTokens of [1000, 4000]) {
        grid.push(...sideBySide(batchSize, latencyModel, STEPS, meanRolloutTokens).slice(0, 2));
        for (const pairsCap of [3, null]) {
          grid.push(melTemporal({ batchSize, latencyModel, meanRolloutTokens, pairsCap }));
        }
      }
    }
  }
  // On an engine that sums the loss, a MEL step sends its GRPO datums while it reflects.
  grid.push(melTemporal({ batchSize: 128, latencyModel: profile, lossReduction: 'sum' }));
  // Batch 16 shows growth over a run on a machine where 100 steps at 128 take longer than a working day.
  grid.push(melTemporal({ batchSize: 16, steps: 100 }), melTemporal({ batchSize: 128, steps: 100 }));
  return grid;
}

/** A short subset: the side-by-side at batch 16 with 256-token rollouts under both latency models, 2 steps each. */
export function quickSweep({ profile }: SweepOptions): BenchConfig[] {
  return ['zero', profile].flatMap((latencyModel) =>
    sideBySide(16, latencyModel, 2).map((config) => ({ ...config, meanRolloutTokens: 256 })),
  );
}

/** Inference engines whose slots this sweep fills before the next engine helps (below a real engine's 256). */
export const ENGINE_SWEEP_SLOTS = 32;

/**
 * Sampling throughput with 1, 2 and 4 inference engines of the same latency model: GRPO steps of 128 × 8, 2 prompts
 * per chunk, each engine with 32 slots, with short rollouts (128 tokens, 2 steps: minutes) and with the issue's 1k
 * (1 step: about half an hour for the three). One engine samples the step's 1,024 sequences in 32 waves of its
 * slots, four in 8; an inference worker keeps more chunks in flight than its engine has slots, so the engines bound
 * the rate, not the workers. Chunks of 16 sequences, half an engine's slots, leave less queued on one engine while
 * another idles at the end of the rollout than chunks of 32 (measured: 3.32× against 3.25× with four engines). With
 * fewer waves the step's last, longest sequences would bound it instead: at 32 × 8, an ideal scheduler keeps 4
 * engines' slots only 71 % busy, against 92 % for one (bench/metrics.ts, `slotCeiling`), so no system could reach
 * 3.5×. What every step pays once per engine, restoring the new policy on each engine that did not train it, weighs
 * eight times less against 1k-token rollouts than against 128-token ones.
 */
export function enginesSweep({ profile }: SweepOptions): BenchConfig[] {
  const lengths = [
    { meanRolloutTokens: 128, steps: 2 },
    { meanRolloutTokens: 1000, steps: 1 },
  ];
  return lengths.flatMap((length) =>
    [1, 2, 4].map((engines) =>
      melTemporal({
        mode: 'grpo',
        pairsCap: null,
        latencyModel: profile,
        batchSize: 128,
        ...length,
        engines,
        engineSlots: ENGINE_SWEEP_SLOTS,
        promptsPerChunk: 2,
      }),
    ),
  );
}

/**
 * Whether `smaller` asks for no more work than `larger` in every size (batch, rollout length, pairs, steps) on the
 * same system, mode and latency model: if `smaller` failed, `larger` is not worth an hour to fail too.
 */
export function noLargerThan(smaller: BenchConfig, larger: BenchConfig): boolean {
  const pairs = (config: BenchConfig) => config.pairsCap ?? Infinity;
  return (
    smaller.system === larger.system &&
    smaller.mode === larger.mode &&
    smaller.latencyModel === larger.latencyModel &&
    smaller.engines === larger.engines &&
    smaller.lossReduction === larger.lossReduction &&
    smaller.groupSize === larger.groupSize &&
    smaller.batchSize <= larger.batchSize &&
    smaller.meanRolloutTokens <= larger.meanRolloutTokens &&
    pairs(smaller) <= pairs(larger)
  );
}
