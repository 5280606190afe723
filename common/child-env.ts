/**
 * The environment a service the stack starts (Temporal, FerretDB, the engine) gets: what a process needs to run,
 * and the variables of its own runtime, never the user's secrets (API keys, MONGODB_URI with its credentials) that
 * it has no use for.
 */

/** Variables every child process may need: where programs, home, temporary files and locale are. */
const BASE = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR', 'TMP', 'TEMP', 'TZ', 'LANG', 'TERM'];
const BASE_PREFIXES = ['LC_'];

/** Names and name prefixes a service's runtime reads, e.g. the engine's JAX and XLA settings. */
export interface ChildEnvAllowance {
  names?: readonly string[];
  prefixes?: readonly string[];
}

export function childEnvironment(
  source: NodeJS.ProcessEnv,
  allowance: ChildEnvAllowance = {},
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  const names = new Set([...BASE, ...(allowance.names ?? [])]);
  const prefixes = [...BASE_PREFIXES, ...(allowance.prefixes ?? [])];
  const passed = Object.entries(source).filter(
    ([name]) => names.has(name) || prefixes.some((prefix) => name.startsWith(prefix)),
  );
  return { ...Object.fromEntries(passed), ...extra };
}
