/**
 * A small client of MLflow's tracking REST API (`<MLFLOW_TRACKING_URI>/api/2.0/mlflow/…`), configured by MLflow's own
 * variables. Each call is bounded by MEL_MLFLOW_TIMEOUT_S and by the activity attempt it is made for, whose
 * liveness it reports like the engine and MongoDB clients do.
 */
import { z } from 'zod';
import { currentCallScope } from '../common/call-scope.js';
import { ConfigError } from '../common/env.js';

/** An empty variable counts as unset (`MLFLOW_TRACKING_URI= npm run worker` turns the sink off). */
const unsetIfBlank = (value: unknown) => (value === '' ? undefined : value);
const optionalSecret = z.preprocess(unsetIfBlank, z.string().optional());

const SettingsSchema = z
  .object({
    /** The tracking server (http or https); unset: no MLflow sink. */
    MLFLOW_TRACKING_URI: z.preprocess(unsetIfBlank, z.url({ protocol: /^https?$/ }).optional()),
    /** The experiment every MEL run's MLflow run goes to; created when missing. */
    MEL_MLFLOW_EXPERIMENT: z.string().trim().min(1).max(500).default('mel-temporal'),
    MLFLOW_TRACKING_TOKEN: optionalSecret,
    MLFLOW_TRACKING_USERNAME: optionalSecret,
    MLFLOW_TRACKING_PASSWORD: optionalSecret,
    /** The bound of one call to the server. */
    MEL_MLFLOW_TIMEOUT_S: z.coerce.number().positive().max(300).default(10),
  })
  .refine((env) => Boolean(env.MLFLOW_TRACKING_USERNAME) === Boolean(env.MLFLOW_TRACKING_PASSWORD), {
    message: 'MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD go together: set both or neither',
    path: ['MLFLOW_TRACKING_USERNAME'],
  });

export interface MlflowSettings {
  trackingUri: string;
  experiment: string;
  /** The Authorization header's value, when the server asks for one. */
  authorization?: string;
  timeoutMs: number;
}

/** The MLflow sink's settings, or undefined when MLFLOW_TRACKING_URI is unset. Never holds a secret in a message. */
export function mlflowSettingsFromEnv(source: NodeJS.ProcessEnv = process.env): MlflowSettings | undefined {
  const parsed = SettingsSchema.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  const env = parsed.data;
  if (!env.MLFLOW_TRACKING_URI) return undefined;
  const authorization = authorizationOf(env);
  return {
    trackingUri: env.MLFLOW_TRACKING_URI.replace(/\/+$/, ''),
    experiment: env.MEL_MLFLOW_EXPERIMENT,
    timeoutMs: env.MEL_MLFLOW_TIMEOUT_S * 1000,
    ...(authorization ? { authorization } : {}),
  };
}

/** As MLflow's own client: basic auth when a username and password are set, else a bearer token. */
function authorizationOf(env: z.infer<typeof SettingsSchema>): string | undefined {
  const {
    MLFLOW_TRACKING_USERNAME: user,
    MLFLOW_TRACKING_PASSWORD: password,
    MLFLOW_TRACKING_TOKEN: token,
  } = env;
  if (user && password) return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  return token ? `Bearer ${token}` : undefined;
}

/** An error answer of the server: its HTTP status and MLflow's error code (RESOURCE_DOES_NOT_EXIST, …). */
export class MlflowError extends Error {
  override name = 'MlflowError';
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export interface MlflowApi {
  get<T>(endpoint: string, query: Record<string, string>, answer: z.ZodType<T>): Promise<T>;
  post<T>(endpoint: string, body: object, answer: z.ZodType<T>): Promise<T>;
}

const ErrorAnswer = z.object({ error_code: z.string().optional(), message: z.string().optional() });

/** MLflow answers errors as `{error_code, message}`; a proxy in front of it may answer anything. */
function errorAnswer(endpoint: string, status: number, text: string): MlflowError {
  let parsed: z.infer<typeof ErrorAnswer> = {};
  try {
    parsed = ErrorAnswer.parse(JSON.parse(text));
  } catch {
    // not MLflow's error format: the text itself says what happened
  }
  const what = parsed.message ?? text.slice(0, 500);
  return new MlflowError(
    status,
    parsed.error_code,
    `MLflow ${endpoint}: ${status} ${parsed.error_code ?? ''}: ${what}`,
  );
}

/** The REST API under the settings' server; `endpoint` is the part after `/api/2.0/mlflow/`, e.g. `runs/search`. */
export function mlflowApi(settings: MlflowSettings): MlflowApi {
  const call = async <T>(endpoint: string, init: RequestInit, answer: z.ZodType<T>, query = '') => {
    const scope = currentCallScope();
    const timeout = AbortSignal.timeout(settings.timeoutMs);
    const response = await fetch(`${settings.trackingUri}/api/2.0/mlflow/${endpoint}${query}`, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(settings.authorization ? { authorization: settings.authorization } : {}),
      },
      signal: scope ? AbortSignal.any([timeout, scope.signal]) : timeout,
    });
    const text = await response.text();
    scope?.progressed(`MLflow ${endpoint} answered`);
    if (!response.ok) throw errorAnswer(endpoint, response.status, text);
    return answer.parse(text ? JSON.parse(text) : {});
  };
  return {
    get: (endpoint, query, answer) =>
      call(endpoint, { method: 'GET' }, answer, `?${new URLSearchParams(query).toString()}`),
    post: (endpoint, body, answer) => call(endpoint, { method: 'POST', body: JSON.stringify(body) }, answer),
  };
}
