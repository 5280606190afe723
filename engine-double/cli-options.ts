import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LATENCY_PROFILE_NAMES } from './latency-profiles.js';
import { OptionsError, parseOptions, type EngineDoubleOptions } from './options.js';

// Command-line flags -> validated options. Numbers and JSON are converted here; the zod schema judges them.

const FLAGS = {
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  seed: { type: 'string' },
  name: { type: 'string' },
  tokenizer: { type: 'string' },
  'base-model': { type: 'string' },
  'p-correct': { type: 'string' },
  'p-replay-correct': { type: 'string' },
  'p-unparseable': { type: 'string' },
  'p-truncated': { type: 'string' },
  'p-states-answer': { type: 'string' },
  'mean-tokens': { type: 'string' },
  'reflection-mean-tokens': { type: 'string' },
  'builtin-seed': { type: 'string' },
  'builtin-count': { type: 'string' },
  problems: { type: 'string' },
  reduction: { type: 'string' },
  'seq-id-mode': { type: 'string' },
  'retrieve-hold-ms': { type: 'string' },
  'max-loaded-models': { type: 'string' },
  'max-context-tokens': { type: 'string' },
  'checkpoint-dir': { type: 'string' },
  latency: { type: 'string' },
  faults: { type: 'string' },
  help: { type: 'boolean' },
} as const;

export const USAGE = `npm run engine-double -- [options]
  --port 18124 --host 127.0.0.1 --seed 1 --name <letters, digits: in model ids> --tokenizer <model dir> --base-model <name>
  --p-correct 0.5 --p-replay-correct 0.5 --p-unparseable 0.1 --p-truncated 0.05 --p-states-answer 0
  --mean-tokens 0 --reflection-mean-tokens 0 (0: natural length)
  --builtin-seed 0 --builtin-count 1000 --problems <file.jsonl|.parquet>
  --reduction skyrl|sum (workers: the same MEL_ENGINE_LOSS_REDUCTION) --seq-id-mode ignore|dedupe
  --retrieve-hold-ms 300000
  --max-loaded-models 0 --max-context-tokens 0 (0: no limit) --checkpoint-dir <dir>
  --latency ${LATENCY_PROFILE_NAMES.join('|')}|'<json>'|@file   (a profile, or JSON: '{"profile":"h100-8b","loadMs":0}')
  --faults '<json array>'   (JSON, or @file)
  --config <options.json>  (the same options as JSON; flags override it)`;

function number(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text);
}

function json(flag: string, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  const source = text.startsWith('@') ? readFileSync(text.slice(1), 'utf8') : text;
  try {
    return JSON.parse(source) as unknown;
  } catch (error) {
    throw new OptionsError(`--${flag}: not valid JSON (${(error as Error).message})`);
  }
}

/** A bare word is a latency profile's name (the schema lists the known ones); anything else is JSON. */
function latencyFlag(text: string | undefined): unknown {
  return text !== undefined && /^[A-Za-z][\w.-]*$/.test(text) ? text : json('latency', text);
}

function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

export function parseCli(argv: readonly string[]): EngineDoubleOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new OptionsError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return 'help';
  const base = (json('config', values.config && `@${values.config}`) ?? {}) as Record<string, unknown>;
  const dataset = defined({
    ...((base.dataset as object | undefined) ?? {}),
    builtinSeed: number(values['builtin-seed']),
    builtinCount: number(values['builtin-count']),
    file: values.problems,
  });
  return parseOptions({
    ...base,
    ...defined({
      host: values.host,
      port: number(values.port) ?? (base.port === undefined ? 18_124 : undefined),
      seed: number(values.seed),
      name: values.name,
      tokenizerDir: values.tokenizer,
      baseModel: values['base-model'],
      pCorrect: number(values['p-correct']),
      pReplayCorrect: number(values['p-replay-correct']),
      pUnparseable: number(values['p-unparseable']),
      pTruncated: number(values['p-truncated']),
      pStatesAnswer: number(values['p-states-answer']),
      meanTokens: number(values['mean-tokens']),
      reflectionMeanTokens: number(values['reflection-mean-tokens']),
      reduction: values.reduction,
      seqIdMode: values['seq-id-mode'],
      retrieveHoldMs: number(values['retrieve-hold-ms']),
      maxLoadedModels: number(values['max-loaded-models']),
      maxContextTokens: number(values['max-context-tokens']),
      checkpointDir: values['checkpoint-dir'],
      latency: latencyFlag(values.latency),
      faults: json('faults', values.faults),
    }),
    dataset,
  });
}
