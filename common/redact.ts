/** Keeps secrets out of what is printed and logged: credentials in URIs and key-like query parameters. */

/** `scheme://user:password@` (password: anything up to the `@`) or `scheme://token@`. */
const URI_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:"'<>]+)(:[^\s/?#@"'<>]*)?@/gi;

/** `?api_key=…`, `&apiKey=…`, `access_token=…`: the value up to the next separator. */
const SECRET_PARAM =
  /(?<![A-Za-z0-9])((?:api[_-]?key|access[_-]?token|auth[_-]?token|token|secret|client[_-]?secret|password|passwd|pwd)=)[^&\s#"'<>]+/gi;

export const REDACTED = '***';

/**
 * `text` with credentials masked: `mongodb://user:pass@host` → `mongodb://user:***@host`, a user-only
 * `https://token@host` → `https://***@host`, `?api_key=abc` → `?api_key=***`. Everything else is kept.
 */
export function redactCredentials(text: string): string {
  return text
    .replace(URI_USERINFO, (_match, scheme: string, user: string, password: string | undefined) =>
      password === undefined ? `${scheme}${REDACTED}@` : `${scheme}${user}:${REDACTED}@`,
    )
    .replace(SECRET_PARAM, `$1${REDACTED}`);
}

/** An error's message (or the value as text), redacted: for printing errors that may quote a URI. */
export function redactedMessage(error: unknown): string {
  return redactCredentials(error instanceof Error ? error.message : String(error));
}
