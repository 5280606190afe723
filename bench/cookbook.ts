/**
 * GRPO steps driven by tinker-cookbook's RL loop (bench/cookbook/grpo_steps.py in the cookbook venv), for the
 * benchmark's peer side. A failure of the engine or the driver is a result (ok: false), never a throw.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { loadEnv } from '../common/env.js';
import { createLogger, type Logger } from '../common/logger.js';
import { redactCredentials } from '../common/redact.js';
import type { Problem } from '../mel/types.js';
import { OFFLINE_ENV } from '../common/python-script.js';
import { stopProcessGroup } from '../stack/process.js';
import { COOKBOOK_DIR, ensureCookbookVenv } from './cookbook-venv.js';

export const DRIVER = path.join(COOKBOOK_DIR, 'grpo_steps.py');
/** The SDK wants a key shaped like Tinker's; SkyRL and the double ignore it. */
const PLACEHOLDER_API_KEY = 'tml-local-engine';
const STDERR_TAIL_LINES = 30;

const positiveInt = z.number().int().positive();

export const CookbookGrpoOptionsSchema = z.strictObject({
  engineUrl: z.url(),
  batchSize: positiveInt,
  groupSize: positiveInt,
  maxTokens: positiveInt,
  steps: positiveInt,
  tokenizerDir: z.string().min(1),
  /** JSONL of {"question","answer"} (writeProblemsJsonl); at least steps × batchSize rows. */
  datasetFile: z.string().min(1),
  seed: z.number().int().nonnegative().default(0),
  timeoutMs: positiveInt,
  /** Default: the engine's first supported model. */
  baseModel: z.string().optional(),
  loraRank: positiveInt.default(8),
  lossFn: z.enum(['importance_sampling', 'ppo']).default('importance_sampling'),
  learningRate: z.number().positive().default(1e-4),
  /** The cookbook's log_path (metrics.jsonl, checkpoints.jsonl); default: a fresh temporary folder. */
  logDir: z.string().optional(),
  apiKey: z.string().default(PLACEHOLDER_API_KEY),
});

export type CookbookGrpoInput = z.input<typeof CookbookGrpoOptionsSchema>;
export type CookbookGrpoOptions = z.infer<typeof CookbookGrpoOptionsSchema>;

const seconds = z.number().nonnegative();

const StepEventSchema = z.object({
  type: z.literal('step'),
  step: z.number().int().nonnegative(),
  seconds,
  samplingSeconds: seconds.optional(),
  trainingSeconds: seconds.optional(),
  meanReward: z.number().optional(),
});

const SummaryEventSchema = z.object({
  type: z.literal('summary'),
  ok: z.boolean(),
  error: z.string().nullable(),
  stepSeconds: z.array(seconds).default([]),
  samplingSeconds: z.array(seconds).optional(),
  trainingSeconds: z.array(seconds).optional(),
  totalSeconds: seconds.optional(),
  logDir: z.string().optional(),
});

const DriverEventSchema = z.discriminatedUnion('type', [StepEventSchema, SummaryEventSchema]);

export type CookbookStep = z.infer<typeof StepEventSchema>;
export type DriverSummary = z.infer<typeof SummaryEventSchema>;
export type DriverEvent = z.infer<typeof DriverEventSchema>;

export interface CookbookGrpoResult {
  ok: boolean;
  error: string | null;
  /** Wall seconds of each completed step (the cookbook's time/total of the iteration). */
  stepSeconds: number[];
  /** Per step: rollouts of the whole batch (time/sampling). */
  samplingSeconds?: number[];
  /** Per step: data assembly, forward_backward, optim_step and the sampler save (do_train_step_…). */
  trainingSeconds?: number[];
  /** The driver's wall time, model creation and final checkpoint included. */
  totalSeconds?: number;
  logDir?: string;
}

export interface CookbookGrpoHooks {
  onStep?: (step: CookbookStep) => void;
  /** Each line the driver writes on stderr (the cookbook's and the SDK's logs). */
  onLog?: (line: string) => void;
  /** The venv's python; default: ensureCookbookVenv (installs it on first use). */
  python?: string;
  logger?: Logger;
}

export function driverArgs(options: CookbookGrpoOptions): string[] {
  const args = [
    DRIVER,
    ['--base-url', options.engineUrl],
    ['--dataset', options.datasetFile],
    ['--tokenizer', options.tokenizerDir],
    ['--batch-size', String(options.batchSize)],
    ['--group-size', String(options.groupSize)],
    ['--max-tokens', String(options.maxTokens)],
    ['--steps', String(options.steps)],
    ['--seed', String(options.seed)],
    ['--lora-rank', String(options.loraRank)],
    ['--loss-fn', options.lossFn],
    ['--learning-rate', String(options.learningRate)],
    options.baseModel === undefined ? [] : ['--base-model', options.baseModel],
    options.logDir === undefined ? [] : ['--log-dir', options.logDir],
  ];
  return args.flat();
}

/** A protocol line of the driver's stdout, or undefined for anything else. */
export function parseDriverLine(line: string): DriverEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = DriverEventSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export interface DriverOutcome {
  summary?: DriverSummary;
  steps: CookbookStep[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the wrapper killed the driver for running past timeoutMs. */
  timedOutAfterMs?: number;
  stderrTail: string[];
  /** Set when the driver could not be started. */
  spawnError?: string;
}

function fromSummary(summary: DriverSummary): CookbookGrpoResult {
  const result: CookbookGrpoResult & { type?: string } = { ...summary };
  delete result.type;
  return result;
}

function failureReason(outcome: DriverOutcome, expectedSteps: number): string {
  if (outcome.spawnError) return `could not start the driver: ${outcome.spawnError}`;
  const progress = `${outcome.steps.length} of ${expectedSteps} steps done`;
  if (outcome.timedOutAfterMs !== undefined) {
    return `timed out after ${outcome.timedOutAfterMs / 1000} s (${progress})`;
  }
  const ending = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
  const tail = outcome.stderrTail.slice(-5).join('\n');
  return `the driver ${ending} without a summary (${progress})${tail ? `:\n${tail}` : ''}`;
}

/** The result of a finished (or killed) driver: its summary when it wrote one, else why it has none. */
export function cookbookResult(outcome: DriverOutcome, expectedSteps: number): CookbookGrpoResult {
  const streamed = outcome.steps.map((step) => step.seconds);
  if (outcome.timedOutAfterMs === undefined && outcome.summary) {
    const result = fromSummary(outcome.summary);
    if (result.ok && result.stepSeconds.length !== expectedSteps) {
      return { ...result, ok: false, error: `${result.stepSeconds.length} of ${expectedSteps} steps ran` };
    }
    return result;
  }
  return { ok: false, error: failureReason(outcome, expectedSteps), stepSeconds: streamed };
}

function runDriver(
  python: string,
  options: CookbookGrpoOptions,
  hooks: CookbookGrpoHooks,
): Promise<DriverOutcome> {
  const outcome: DriverOutcome = { steps: [], exitCode: null, signal: null, stderrTail: [] };
  const child = spawn(python, driverArgs(options), {
    detached: true, // its own process group, so a timeout kills anything it started too
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...OFFLINE_ENV, TINKER_API_KEY: options.apiKey },
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = parseDriverLine(line);
    if (event?.type === 'step') {
      outcome.steps.push(event);
      hooks.onStep?.(event);
    } else if (event?.type === 'summary') outcome.summary = event;
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    const safe = redactCredentials(line);
    outcome.stderrTail = [...outcome.stderrTail.slice(-(STDERR_TAIL_LINES - 1)), safe];
    hooks.onLog?.(safe);
  });
  const timer = setTimeout(() => {
    outcome.timedOutAfterMs = options.timeoutMs;
    if (child.pid !== undefined) void stopProcessGroup(child.pid, 5_000);
  }, options.timeoutMs);
  return new Promise((resolve) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ ...outcome, spawnError: error.message });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ ...outcome, exitCode: code, signal });
    });
  });
}

/** Runs `steps` GRPO steps of tinker-cookbook's RL loop against `engineUrl`. */
export async function runCookbookGrpo(
  input: CookbookGrpoInput,
  hooks: CookbookGrpoHooks = {},
): Promise<CookbookGrpoResult> {
  const options = CookbookGrpoOptionsSchema.parse(input);
  let python = hooks.python;
  try {
    python ??= await ensureCookbookVenv(loadEnv(), hooks.logger ?? createLogger('bench'));
  } catch (error) {
    return {
      ok: false,
      error: `could not install the cookbook venv: ${(error as Error).message}`,
      stepSeconds: [],
    };
  }
  return cookbookResult(await runDriver(python, options, hooks), options.steps);
}

/** Problems as the driver reads them: one {"question","answer"} object per line. */
export async function writeProblemsJsonl(file: string, problems: readonly Problem[]): Promise<void> {
  const lines = problems.map(({ question, answer }) => JSON.stringify({ question, answer }));
  await writeFile(file, `${lines.join('\n')}\n`);
}
