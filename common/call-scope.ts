/**
 * The unit of work that engine and store calls are made for (an activity attempt), found without passing it down
 * every call: the clients report each answer to it, so it can tell slow work from a hang, and stop when its signal
 * aborts. Outside a scope (the CLI, scripts) the clients behave as before.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface CallScope {
  /** Aborts when the work is cancelled, has stalled or is over: calls made for it stop. */
  readonly signal: AbortSignal;
  /** A call made for the work was answered, or one of its items finished. */
  progressed(what: string): void;
  /** What the work's heartbeats show of it (stage, items done): replaces the previous details. */
  show(details: Record<string, unknown>): void;
}

const scopes = new AsyncLocalStorage<CallScope>();

export function runInCallScope<T>(scope: CallScope, work: () => Promise<T>): Promise<T> {
  return scopes.run(scope, work);
}

export function currentCallScope(): CallScope | undefined {
  return scopes.getStore();
}
