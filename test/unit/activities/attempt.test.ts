/**
 * Activity attempts under the liveness bound, in Temporal's mock activity environment with real timers and short
 * bounds: progress keeps an attempt alive and shows in its heartbeats; none fails it as Stalled and stops its
 * heartbeats; cancellation ends it at once; whatever an attempt left in flight is aborted when it ends.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { runAttempt, STALLED } from '../../../activities/attempt.js';
import { currentCallScope } from '../../../common/call-scope.js';

const settings = { stallTimeoutMs: 300, heartbeatEveryMs: 20 };

function recordingEnvironment() {
  const environment = new MockActivityEnvironment();
  const beats: { atMs: number; details: Record<string, unknown> }[] = [];
  environment.on('heartbeat', (details: Record<string, unknown>) =>
    beats.push({ atMs: performance.now(), details }),
  );
  return { environment, beats };
}

/** A call that answers only when the attempt's signal aborts it, like a fetch to a hung server. */
function hungCall(): Promise<never> {
  const { signal } = currentCallScope()!;
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
}

describe('activity attempts under the liveness bound', () => {
  it('stays live past the bound while calls are answered, and heartbeats carry the progress', async () => {
    const { environment, beats } = recordingEnvironment();
    const result = await environment.run(() =>
      runAttempt(settings, async () => {
        const scope = currentCallScope()!;
        for (let i = 1; i <= 6; i++) {
          await sleep(100);
          scope.progressed(`engine call ${i}`);
          scope.show({ stage: 'rollout', done: i, total: 6 });
        }
        return 'done';
      }),
    );
    expect(result).toBe('done');
    // It ran twice the bound; the heartbeat after the fifth call shows it.
    expect(beats.map((beat) => beat.details)).toContainEqual({
      stage: 'rollout',
      done: 5,
      total: 6,
      liveness: expect.objectContaining({ progress: 5, last: 'engine call 5' }),
    });
  });

  it('fails as Stalled when nothing is answered within the bound, aborts the hung call and stops heartbeating', async () => {
    const { environment, beats } = recordingEnvironment();
    let hungCallError: unknown;
    const started = performance.now();
    const attempt = environment.run(() =>
      runAttempt(settings, async () => {
        currentCallScope()!.progressed('store find');
        await hungCall().catch((error: unknown) => {
          hungCallError = error;
          throw error;
        });
      }),
    );
    await expect(attempt).rejects.toMatchObject({ type: STALLED, nonRetryable: false });
    await expect(attempt).rejects.toThrow(/for 0 s \(bound 0.3 s\); the last progress was "store find"/);
    const failedAfterMs = performance.now() - started;
    expect(failedAfterMs).toBeGreaterThanOrEqual(settings.stallTimeoutMs);
    expect(failedAfterMs).toBeLessThan(settings.stallTimeoutMs + 5 * settings.heartbeatEveryMs + 100);
    expect(hungCallError).toMatchObject({ type: STALLED });
    expect(beats.at(-1)!.atMs - started).toBeLessThan(settings.stallTimeoutMs + settings.heartbeatEveryMs);
  });

  it('ends at once with a CancelledFailure when Temporal cancels it, aborting its calls', async () => {
    const { environment } = recordingEnvironment();
    let callAborted = false;
    const attempt = environment.run(() =>
      runAttempt({ ...settings, stallTimeoutMs: 60_000 }, async () => {
        await hungCall().catch((error: unknown) => {
          callAborted = true;
          throw error;
        });
      }),
    );
    await sleep(50);
    environment.cancel('TIMED_OUT');
    await expect(attempt).rejects.toBeInstanceOf(CancelledFailure);
    expect(callAborted).toBe(true);
  });

  it('aborts what a failed attempt left in flight, so a slow lane cannot go on to write', async () => {
    const { environment } = recordingEnvironment();
    let slowLaneWrote = false;
    let slowLaneSignal: AbortSignal | undefined;
    const attempt = environment.run(() =>
      runAttempt(settings, async () => {
        const slowLane = async () => {
          slowLaneSignal = currentCallScope()!.signal;
          await sleep(100);
          if (!slowLaneSignal.aborted) slowLaneWrote = true;
        };
        const failingLane = async () => {
          throw new Error('a lane failed');
        };
        await Promise.all([slowLane(), failingLane()]);
      }),
    );
    await expect(attempt).rejects.toThrow('a lane failed');
    expect(slowLaneSignal!.aborted).toBe(true);
    await sleep(150);
    expect(slowLaneWrote).toBe(false);
  });
});
