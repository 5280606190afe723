/**
 * Failure types that no retry can fix: bad configuration, bad data, a run that does not exist, a request the
 * engine refused as wrong. Each error class takes its `name` from here and the activity retry policies list
 * exactly these, so a class and its retry rule cannot drift apart. Free of imports: workflow code reads it.
 */
export const NON_RETRYABLE = {
  /** An activity's input is wrong (ApplicationFailure type). */
  invalidInput: 'InvalidInput',
  runConfig: 'RunConfigError',
  config: 'ConfigError',
  /** A bad row, no usable row, or a data file that changed since the run or eval pinned it. */
  dataset: 'DatasetError',
  /** The engine refused the request itself (a 4xx that is no timeout, rate limit or lost model). */
  engineRefused: 'EngineRefused',
  /** The policy update found samples made by another policy than the one it starts from. */
  offPolicySamples: 'OffPolicySamples',
} as const;

export const NON_RETRYABLE_ERROR_TYPES: string[] = Object.values(NON_RETRYABLE);
