/**
 * Error formatting shared by workflow code and the CLI. Pure and free of Node built-ins: the workflow bundle
 * imports it.
 */

/**
 * "outer: cause: root cause": the messages of an error and its causes (Temporal wraps failures several deep, e.g.
 * child workflow failed: activity failed: the activity's own error). Anything that is not an Error is stringified.
 */
export function failureChain(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const messages: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) messages.push(e.message);
  return messages.join(': ');
}
