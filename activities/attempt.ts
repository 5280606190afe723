/**
 * How every activity attempt runs. It heartbeats only while it makes progress (an engine or MongoDB call answered,
 * an item finished), and its heartbeats carry that progress; with none for the stall bound it fails as `Stalled`,
 * so a hung call costs one attempt, not the start-to-close timeout. It ends at once when Temporal cancels it (the
 * heartbeat timeout, a cancelled workflow, worker shutdown). When it ends, the calls it left in flight are aborted
 * and its lanes take no new items; a write it had already sent is fenced by the write itself (store/writes.ts).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { runInCallScope, type CallScope } from '../common/call-scope.js';
import { LivenessTracker } from '../common/liveness.js';

export interface LivenessSettings {
  /** An attempt without progress for this long fails as `Stalled`; its heartbeats stop. */
  stallTimeoutMs: number;
  /** How often a live attempt heartbeats (well within the heartbeat timeout) and checks for a stall. */
  heartbeatEveryMs: number;
}

export const DEFAULT_LIVENESS: LivenessSettings = { stallTimeoutMs: 120_000, heartbeatEveryMs: 5_000 };

/** The failure type of an attempt that stopped making progress (retryable). */
export const STALLED = 'Stalled';

class AttemptOver extends Error {
  override name = 'AttemptOver';
}

/** Runs `work` as the current activity's attempt (see the file comment). */
export async function runAttempt<T>(settings: LivenessSettings, work: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const tracker = new LivenessTracker(settings.stallTimeoutMs);
  const ended = new AbortController();
  const signal = AbortSignal.any([context.cancellationSignal, ended.signal]);
  let details: Record<string, unknown> = {};
  const heartbeat = () => context.heartbeat({ ...details, liveness: tracker.report() });
  const scope: CallScope = {
    signal,
    progressed: (what) => tracker.progressed(what),
    show: (next) => void (details = next),
  };

  heartbeat();
  const timer = setInterval(() => {
    if (tracker.isLive()) heartbeat();
    else ended.abort(ApplicationFailure.retryable(tracker.stallMessage(), STALLED));
  }, settings.heartbeatEveryMs);
  const running = runInCallScope(scope, work);
  const aborted = rejectWhenAborted(signal);
  try {
    return await Promise.race([running, aborted]);
  } finally {
    clearInterval(timer);
    ended.abort(new AttemptOver('the activity attempt is over'));
    running.catch(() => undefined);
    aborted.catch(() => undefined);
  }
}

type Activity = (input: never) => Promise<unknown>;

/** The same activities, each attempt run by `runAttempt`. */
export function attemptsUnderLiveness<A extends Record<string, Activity>>(
  settings: LivenessSettings,
  activities: A,
): A {
  const wrap = (activity: Activity) => (input: never) => runAttempt(settings, () => activity(input));
  return Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, wrap(fn)])) as A;
}

function rejectWhenAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
}
