/**
 * Where Temporal is and how to reach it, from Temporal's standard client configuration (`@temporalio/envconfig`:
 * the TEMPORAL_* variables and the TOML profiles of TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE), with the project's
 * older MEL_TEMPORAL_ADDRESS and MEL_TEMPORAL_NAMESPACE as aliases of TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE.
 *
 * Precedence, highest first: a variable (standard name or alias, which must agree when both are set), the
 * profile, the local stack (no address: the project starts its own Temporal; namespace `default`).
 */
import { existsSync } from 'node:fs';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

/** How to connect beyond the address: what a TLS or API-key Temporal (Temporal Cloud, say) needs. */
export interface TemporalAccess {
  tls?: NonNullable<NativeConnectionOptions['tls']>;
  apiKey?: string;
  /** gRPC headers sent with every call (TEMPORAL_GRPC_META_*, a profile's `grpc_meta`). */
  metadata?: Record<string, string>;
}

export interface TemporalSettings {
  /** The user's own Temporal; unset when the local stack's is meant. */
  address?: string;
  namespace: string;
  access: TemporalAccess;
}

const DEFAULT_NAMESPACE = 'default';
const ALIASES = {
  TEMPORAL_ADDRESS: 'MEL_TEMPORAL_ADDRESS',
  TEMPORAL_NAMESPACE: 'MEL_TEMPORAL_NAMESPACE',
} as const;

/** Thrown with every problem found, one per line; `loadEnv` reports them as a configuration error. */
export class TemporalSettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export function temporalSettings(source: NodeJS.ProcessEnv): TemporalSettings {
  const { variables, problems } = resolveAliases(source);
  const configFile = variables.TEMPORAL_CONFIG_FILE;
  if (configFile && !existsSync(configFile)) problems.push(`TEMPORAL_CONFIG_FILE: no file at ${configFile}`);
  if (problems.length > 0) throw new TemporalSettingsError(problems);

  const profile = loadProfile(variables);
  const { connectionOptions, namespace } = toClientOptions(profile);
  const settings: TemporalSettings = {
    address: connectionOptions.address || undefined,
    namespace: namespace || DEFAULT_NAMESPACE,
    access: withoutUnset({ tls: connectionOptions.tls, apiKey: profile.apiKey, metadata: profile.grpcMeta }),
  };
  problems.push(...accessProblems(profile, settings, variables));
  if (problems.length > 0) throw new TemporalSettingsError(problems);
  return settings;
}

/** The environment with each alias's value under its standard name; an alias that disagrees is a problem. */
function resolveAliases(source: NodeJS.ProcessEnv): {
  variables: Record<string, string>;
  problems: string[];
} {
  const variables: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) if (value !== undefined) variables[name] = value;
  const problems: string[] = [];
  for (const [standard, alias] of Object.entries(ALIASES)) {
    const standardValue = source[standard]?.trim() || undefined;
    const aliasValue = source[alias]?.trim() || undefined;
    if (standardValue && aliasValue && standardValue !== aliasValue) {
      problems.push(
        `${standard}=${standardValue} and ${alias}=${aliasValue} disagree: ` +
          `${alias} is an alias of ${standard}, set one of them`,
      );
    }
    const value = standardValue ?? aliasValue;
    if (value === undefined) delete variables[standard];
    else variables[standard] = value;
  }
  return { variables, problems };
}

function loadProfile(variables: Record<string, string>): ClientConfigProfile {
  try {
    return loadClientConfigProfile({ overrideEnvVars: variables });
  } catch (error) {
    const where = variables.TEMPORAL_PROFILE ? ` (TEMPORAL_PROFILE=${variables.TEMPORAL_PROFILE})` : '';
    throw new TemporalSettingsError([
      `Temporal client configuration${where}: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
}

/** What envconfig would silently drop or what could not work: said instead of a connection that fails later. */
function accessProblems(
  profile: ClientConfigProfile,
  settings: TemporalSettings,
  variables: Record<string, string>,
): string[] {
  const problems: string[] = [];
  const tls = profile.tls;
  if (tls && !tls.disabled && Boolean(tls.clientCert) !== Boolean(tls.clientKey)) {
    problems.push('mTLS needs both a client certificate and its key (TEMPORAL_TLS_CLIENT_CERT_* and _KEY_*)');
  }
  if (['1', 'true'].includes(variables.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION ?? '')) {
    problems.push(
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION is not supported by the TypeScript SDK; ' +
        'set TEMPORAL_TLS_SERVER_NAME to the name in the server certificate instead',
    );
  }
  if (!settings.address && (settings.access.tls || settings.access.apiKey)) {
    problems.push(
      'TLS or an API key is configured but no Temporal address (TEMPORAL_ADDRESS): ' +
        "the local stack's Temporal speaks neither",
    );
  }
  return problems;
}

/** `value` without its null or undefined fields. */
function withoutUnset<T extends object>(value: T): { [K in keyof T]?: NonNullable<T[K]> } {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry != null)) as {
    [K in keyof T]?: NonNullable<T[K]>;
  };
}
