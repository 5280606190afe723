/** `npm run chaos -- [--seed N] [--short] [--engine skyrl|double] [--steps N] [--out FILE] [--timeout-min N]`. Pure. */
import { parseArgs } from 'node:util';
import type { EngineDoubleInput } from '../engine-double/options.js';
import { SERVICES, freshSeed, type ScheduleOptions } from './schedule.js';

export const USAGE = `npm run chaos -- [options]
  --seed N          replay the drill with this seed (default: a fresh one, printed)
  --short           the short form: 3 steps, 4 faults, the engine double (what CI runs)
  --engine E        skyrl (the stack's engine; default) or double (the engine double in a process of its own;
                    default with --short)
  --steps N         steps of the run (default 6; 3 with --short)
  --out FILE        where the JSON summary goes (default: <MEL_STACK_DIR>/chaos/<run>/summary.json)
  --timeout-min N   the whole drill's bound (default 60; 5 with --short)`;

export class DrillOptionsError extends Error {
  override name = 'DrillOptionsError';
}

export interface DrillSettings {
  seed: number;
  short: boolean;
  engine: 'skyrl' | 'double';
  steps: number;
  /** Prompts per step; the demo's 8, or 4 in the short form. */
  batchSize: number;
  out?: string;
  timeoutMs: number;
  schedule: ScheduleOptions;
  /** The engine double's settings when it is the engine: slow enough that a policy update can be caught. */
  double: Omit<EngineDoubleInput, 'port' | 'checkpointDir'>;
  /** Bound of each worker start and each service start. */
  startTimeoutMs: number;
}

function positiveInt(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new DrillOptionsError(`--${flag} expects a positive integer, got ${text}`);
  return value;
}

export function parseDrillArgs(
  argv: readonly string[],
  seed: () => number = freshSeed,
): DrillSettings | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        seed: { type: 'string' },
        short: { type: 'boolean', default: false },
        engine: { type: 'string' },
        steps: { type: 'string' },
        out: { type: 'string' },
        'timeout-min': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new DrillOptionsError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return 'help';
  if (values.seed !== undefined && !/^\d+$/.test(values.seed)) {
    throw new DrillOptionsError(`--seed expects a non-negative integer, got ${values.seed}`);
  }
  const short = values.short ?? false;
  const engine = values.engine ?? (short ? 'double' : 'skyrl');
  if (engine !== 'skyrl' && engine !== 'double') {
    throw new DrillOptionsError(`--engine expects skyrl or double, got ${engine}`);
  }
  const steps = positiveInt('steps', values.steps) ?? (short ? 3 : 6);
  if (steps < 2)
    throw new DrillOptionsError('--steps must be at least 2: a fault, then a step that recovers');
  const timeoutMin = positiveInt('timeout-min', values['timeout-min']) ?? (short ? 5 : 60);
  const drillSeed = values.seed !== undefined ? Number(values.seed) : seed();
  return {
    seed: drillSeed,
    short,
    engine,
    steps,
    batchSize: short ? 4 : 8,
    out: values.out,
    timeoutMs: timeoutMin * 60_000,
    startTimeoutMs: 180_000,
    schedule: {
      seed: drillSeed,
      steps,
      policyUpdateKills: 1,
      randomKills: short ? 0 : 2,
      services: SERVICES,
      // Faults fire up to the last step but one: the last step shows the run recovered.
      lastStep: Math.max(0, steps - 2),
      maxAfterMs: short ? 1_000 : 20_000,
      maxPolicyUpdateAfterMs: short ? 300 : 3_000,
      downtimeMs: short ? { min: 500, max: 2_000 } : { min: 1_000, max: 5_000 },
    },
    double: {
      seed: 1,
      // Training calls take seconds, so a running policyUpdate can be seen and killed; sampling stays quick.
      latency: {
        tokensPerSecondPerSequence: 400,
        createMs: 200,
        loadMs: 1_000,
        optimStepMs: 1_500,
        saveMs: 500,
      },
    },
  };
}
