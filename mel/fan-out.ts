// How a step splits a stage into activities (the step workflow imports this: keep it pure and free of I/O).
import type { RewardSummary } from './groups.js';

/** Items [start, end) of a stage, in the stage's own order (prompt index; pairs and candidates by id). */
export interface ItemRange {
  start: number;
  end: number;
}

/**
 * `fanOut` of the run configuration, and of one written before it existed: with the default four inference worker
 * slots, 4·16 prompts × G = 8 samples keep 512 sequences in flight, twice what one GPU engine serves at once (the
 * h100-8b latency profile), so the engine always has sequences queued for the slots that free up; summarize and
 * validate keep 4·64 = 256. The local CPU engine's demo uses smaller chunks (configs/demo.json).
 */
export const DEFAULT_FAN_OUT = { promptsPerChunk: 16, generationsPerChunk: 64 } as const;

/** What a step needs to split its sampling stages (StepInput.fanOut), from the run configuration. */
export function stepFanOut(config: {
  batchSize: number;
  fanOut?: { promptsPerChunk: number; generationsPerChunk: number };
}) {
  return { prompts: config.batchSize, ...DEFAULT_FAN_OUT, ...config.fanOut };
}

/**
 * At most this many activities per fanned-out stage, whatever the batch: chunks grow instead. A step's history then
 * stays below about 6 events per activity (scheduled, started, completed, and a workflow task) times 4 stages
 * (rollout, verify, summarize, validate) of MAX_CHUNKS_PER_STAGE, plus the other stages' few dozen events.
 */
export const MAX_CHUNKS_PER_STAGE = 64;

/** [0, total) in consecutive ranges of `perChunk` items, or larger ones so that there are at most `maxChunks`. */
export function itemChunks(total: number, perChunk: number, maxChunks = MAX_CHUNKS_PER_STAGE): ItemRange[] {
  if (!Number.isInteger(total) || total < 0) throw new Error(`cannot split ${total} items`);
  if (!Number.isInteger(perChunk) || perChunk < 1) throw new Error(`chunks of ${perChunk} items`);
  const size = Math.max(perChunk, Math.ceil(total / maxChunks));
  const chunks: ItemRange[] = [];
  for (let start = 0; start < total; start += size)
    chunks.push({ start, end: Math.min(total, start + size) });
  return chunks;
}

type Counts = { [key: string]: number | Counts | undefined };

/** Field-by-field sums of the chunks' counts (nested counts too): a stage's summary from its activities'. */
export function sumCounts<T extends object>(parts: readonly T[]): T {
  const total: Counts = {};
  for (const part of parts) addCounts(total, part as Counts);
  return total as T;
}

function addCounts(total: Counts, part: Counts): void {
  for (const [key, value] of Object.entries(part)) {
    if (typeof value === 'number') total[key] = ((total[key] as number | undefined) ?? 0) + value;
    else if (value && typeof value === 'object') addCounts((total[key] ??= {}) as Counts, value);
  }
}

/**
 * Verification summaries of disjoint sets of groups (a stage's chunks) as one: counts summed (a count a summary lacks
 * adds nothing), the rate recomputed.
 */
export function combineRewardSummaries(parts: readonly Partial<RewardSummary>[]): RewardSummary {
  const zero: RewardSummary = { passRate: 0, rollouts: 0, correct: 0, mixedGroups: 0 };
  const { rollouts, correct, mixedGroups } = sumCounts<RewardSummary>([zero, ...(parts as RewardSummary[])]);
  return { passRate: rollouts ? correct / rollouts : 0, mixedGroups, rollouts, correct };
}

/** "missing-logprobs ×12, engine-rejected ×1", or "nothing excluded". */
export function describeCounts(counts: Readonly<Record<string, number>>): string {
  const parts = Object.entries(counts).map(([reason, n]) => `${reason} ×${n}`);
  return parts.join(', ') || 'nothing excluded';
}
