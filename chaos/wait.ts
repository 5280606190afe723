/** Every wait of the drill is bounded, and says what it waited for when it gives up. */
import { setTimeout as sleep } from 'node:timers/promises';

export class DrillTimeout extends Error {
  override name = 'DrillTimeout';
}

/** Ends a wait at once: what it waits for can no longer happen (the run paused on a failed step, say). */
export class DrillAbort extends Error {
  override name = 'DrillAbort';
}

/**
 * Calls `check` every `intervalMs` until it returns a value other than undefined, and returns that value; after
 * `timeoutMs` throws a DrillTimeout naming `what` (and the last error `check` threw, if any). A check that throws
 * (a service restarting) is tried again, unless it throws a DrillAbort.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      // A check that hangs (a call to a service that went away) counts against the same bound.
      const value = await within(what, Math.max(1, deadline - Date.now()), check());
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      if (error instanceof DrillAbort) throw error;
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message.split('\n')[0]})` : '';
      throw new DrillTimeout(`gave up after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${why}`);
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** `promise`, or a DrillTimeout naming `what` after `timeoutMs`. */
export async function within<T>(what: string, timeoutMs: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DrillTimeout(`gave up after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
