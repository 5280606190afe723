/**
 * Hostile model outputs are verified, parsed and checked for leakage without holding the event loop: the pure
 * functions are linear, and the Compute Engine runs in a worker thread under a deadline. A bound on hostile input
 * is a correctness property (a blocked worker stops heartbeating and its run hangs), so it is asserted here, with
 * budgets far above what a linear pass needs (a few ms) and far below what the old quadratic code took (seconds).
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  answerLikeSpans,
  checkLeakage,
  extractFinalAnswer,
  leakedTokens,
  normaliseAnswer,
  parseChainedMetaExperience,
  parseMetaExperience,
  verifySolution,
  VerifierConfigSchema,
} from '../../../mel/index.js';
import { VerifierPool, VerifierPoolClosedError } from '../../../mel/verifier-pool.js';
import { ADVERSARIAL_OUTPUTS, TRUNCATED_DIVISION_CHAIN } from './adversarial-corpus.js';

const BUDGET_MS = 100;
const CASES = Object.entries(ADVERSARIAL_OUTPUTS);
const PROBLEM = { question: 'What is 1.5 + 2?', answer: '3.5' };
// Every output is read, however long, so that the scans themselves are measured.
const READ_EVERYTHING = VerifierConfigSchema.parse({ maxOutputChars: 1e7, comparisonDeadlineMs: 500 });

const pool = new VerifierPool({ threads: 2 });
afterAll(() => pool.close());

/**
 * How long `fn` holds the event loop: the best of three tries, so that a busy shared machine (a GC pause, another
 * process) does not fail the test; a quadratic scan is over budget on every try.
 */
function blockingMs(fn: () => unknown): number {
  let best = Infinity;
  for (let attempt = 0; attempt < 3 && best > BUDGET_MS; attempt++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/**
 * Starts `work` on a tick of its own while a 10 ms timer ticks, so that both its synchronous part and its wait
 * are watched; returns its result and the longest the timer fired late.
 */
async function withLagProbe<T>(
  work: () => Promise<T>,
): Promise<{ result: T; maxLagMs: number; ticks: number }> {
  let last = performance.now();
  let maxLagMs = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - last - 10);
    last = now;
    ticks++;
  }, 10);
  try {
    const result = await new Promise<T>((resolve, reject) =>
      setTimeout(() => work().then(resolve, reject), 25),
    );
    return { result, maxLagMs, ticks };
  } finally {
    clearInterval(timer);
  }
}

// A genuinely blocking call is late on every try; a busy shared machine rarely makes a timer late three times.
const RETRY_ON_NOISE = { retry: 2 };

describe('the pure functions on hostile output run in linear time', () => {
  it.each(CASES)('%s: extraction, normalisation, parsing and the leakage check', (_name, text) => {
    expect(blockingMs(() => extractFinalAnswer(text))).toBeLessThan(BUDGET_MS);
    expect(blockingMs(() => normaliseAnswer(text))).toBeLessThan(BUDGET_MS);
    expect(blockingMs(() => parseMetaExperience(text))).toBeLessThan(BUDGET_MS);
    const steps = { bifurcation: text, critique: text, heuristics: text };
    expect(blockingMs(() => parseChainedMetaExperience(steps))).toBeLessThan(BUDGET_MS);
    expect(blockingMs(() => leakedTokens(text, PROBLEM))).toBeLessThan(BUDGET_MS);
    expect(blockingMs(() => firstSpans(text, 64))).toBeLessThan(BUDGET_MS);
  });
});

/** The first `count` answer-like spans: what the leakage check reads at most (its cap is smaller). */
function firstSpans(text: string, count: number): string[] {
  const spans: string[] = [];
  for (const span of answerLikeSpans(text)) if (spans.push(span.text) >= count) break;
  return spans;
}

describe('checkLeakage on hostile output', () => {
  const settings = { verifier: { ...READ_EVERYTHING, comparisonDeadlineMs: 100 } };
  it.each(CASES)('%s: ends, without holding the event loop', RETRY_ON_NOISE, async (_name, text) => {
    const { result, maxLagMs } = await withLagProbe(() =>
      checkLeakage(text, PROBLEM, pool.compare, settings),
    );
    expect(result.report.answerSpans.compared).toBeLessThanOrEqual(32);
    expect(maxLagMs).toBeLessThan(BUDGET_MS);
  });
});

describe('verifySolution on hostile output', () => {
  it.each(CASES)('%s: scores 0 while the event loop keeps ticking', RETRY_ON_NOISE, async (_name, text) => {
    const { result, maxLagMs } = await withLagProbe(() =>
      verifySolution(text, '7', pool.compare, READ_EVERYTHING),
    );
    expect(result.correct).toBe(false);
    expect(maxLagMs).toBeLessThan(BUDGET_MS);
  });

  it('scores 0 unread, as output-too-large, an output over the configured size', async () => {
    const huge = ADVERSARIAL_OUTPUTS['answer phrase then 10^5 dots']!;
    expect(await verifySolution(huge, '1', pool.compare)).toEqual({
      correct: false,
      reason: 'output-too-large',
      extracted: null,
      method: null,
    });
  });

  it(
    'ends the truncated division chain at the deadline as verifier-timeout, then verifies the next answer',
    RETRY_ON_NOISE,
    async () => {
      const { result, maxLagMs, ticks } = await withLagProbe(() =>
        verifySolution(TRUNCATED_DIVISION_CHAIN, '1', pool.compare, READ_EVERYTHING),
      );
      expect(result).toMatchObject({ correct: false, reason: 'verifier-timeout', method: 'answer-phrase' });
      expect(maxLagMs).toBeLessThan(BUDGET_MS);
      // The comparison took at least its 500 ms deadline, during which the timer kept firing.
      expect(ticks).toBeGreaterThanOrEqual(10);
      const next = await verifySolution('so \\boxed{\\frac{1}{2}}', '0.5', pool.compare, READ_EVERYTHING);
      expect(next).toMatchObject({ correct: true, reason: 'equivalent' });
    },
  );
});

describe('VerifierPool', () => {
  it('rejects the comparisons in flight when it is closed, and any later one', async () => {
    const closing = new VerifierPool({ threads: 1 });
    const config = VerifierConfigSchema.parse({ comparisonDeadlineMs: 60_000 });
    await verifySolution('\\boxed{x+1}', '2', closing.compare, config); // the thread is started
    const inFlight = verifySolution(TRUNCATED_DIVISION_CHAIN, '1', closing.compare, config);
    const queued = verifySolution('\\boxed{x+1}', '2', closing.compare, config);
    const rejections = [inFlight, queued].map((p) =>
      expect(p).rejects.toBeInstanceOf(VerifierPoolClosedError),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await closing.close();
    await Promise.all(rejections);
    await expect(verifySolution('\\boxed{x}', '2', closing.compare)).rejects.toBeInstanceOf(
      VerifierPoolClosedError,
    );
  });
});
