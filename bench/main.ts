/**
 * `npm run bench [-- --quick | --engines] [--only <text>] [--double-port 18143] [--profile h100-8b] [--budget-min 15] [--out docs] [--list]`:
 * measures real MEL (and GRPO) steps through the real stack against the engine double, and tinker-cookbook's RL
 * loop against the same double; writes docs/benchmarks.md and docs/benchmarks.json (after every configuration,
 * so an interrupted sweep keeps what it measured).
 */
import os from 'node:os';
import path from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { REPO_ROOT, WARM_MODEL_DIR } from '../common/env.js';
import { gitRevision } from '../common/git-revision.js';
import { createLogger } from '../common/logger.js';
import { StatusLine, clock } from '../common/progress.js';
import { redactedMessage } from '../common/redact.js';
import { LATENCY_PROFILES } from '../engine-double/latency-profiles.js';
import { Stack } from '../stack/stack.js';
import { connectClient } from '../temporal/connection.js';
import {
  configLabel,
  defaultSweep,
  enginesSweep,
  noLargerThan,
  quickSweep,
  type BenchConfig,
} from './configs.js';
import { measureCookbook } from './cookbook-run.js';
import { measureMelTemporal, startDouble, type BenchEnv } from './mel-temporal.js';
import { stopAllProcesses, stopOnSignal } from './processes.js';
import { writeReport, type BenchReport } from './report.js';
import { summarise, type ConfigResult, type Measured } from './results.js';

const USAGE =
  'npm run bench -- [--quick | --engines] [--only <text>] [--double-port <port>] [--profile <latency profile>] [--budget-min <minutes>] ' +
  '[--out <dir>] [--list] [--render <benchmarks.json>]';

/** The benchmark's own stack: its own state folder and ports, so it never mixes with the demo's data. */
const BENCH_ENV = {
  MEL_STACK_DIR: path.join(REPO_ROOT, '.stack', 'bench'),
  MEL_TEMPORAL_PORT: '17253',
  MEL_TEMPORAL_UI_PORT: '18253',
  MEL_FERRETDB_PORT: '27237',
  MEL_POSTGRES_PORT: '27238',
};
/** The first engine double's port; a configuration with several engines takes the next ones too. */
const DOUBLE_PORT = 18_143;

interface Options {
  quick: boolean;
  /** The sweep of 1, 2 and 4 inference engines instead. */
  engines: boolean;
  doublePort: number;
  only?: string;
  profile: string;
  budgetMs: number;
  out: string;
  list: boolean;
  /** Re-write the Markdown and plots from this benchmarks.json, measuring nothing. */
  render?: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      engines: { type: 'boolean', default: false },
      'double-port': { type: 'string', default: String(DOUBLE_PORT) },
      only: { type: 'string' },
      profile: { type: 'string', default: 'h100-8b' },
      'budget-min': { type: 'string', default: '15' },
      out: { type: 'string', default: path.join(REPO_ROOT, 'docs') },
      list: { type: 'boolean', default: false },
      render: { type: 'string' },
    },
  });
  const budget = Number(values['budget-min']);
  if (!(budget > 0))
    throw new Error(`--budget-min: a positive number of minutes, not ${values['budget-min']}\n${USAGE}`);
  if (!(values.profile! in LATENCY_PROFILES)) {
    throw new Error(
      `--profile: unknown latency profile ${values.profile}; known: ${Object.keys(LATENCY_PROFILES).join(', ')}`,
    );
  }
  const doublePort = Number(values['double-port']);
  if (!Number.isInteger(doublePort) || doublePort < 1 || doublePort > 65_535 - 4)
    throw new Error(`--double-port: a port number, not ${values['double-port']}\n${USAGE}`);
  return {
    quick: values.quick!,
    engines: values.engines!,
    doublePort,
    only: values.only,
    profile: values.profile!,
    budgetMs: budget * 60_000,
    out: values.out!,
    list: values.list!,
    render: values.render,
  };
}

function selectedConfigs(options: Options): BenchConfig[] {
  const sweep = (options.engines ? enginesSweep : options.quick ? quickSweep : defaultSweep)({
    profile: options.profile,
  });
  return options.only ? sweep.filter((config) => configLabel(config).includes(options.only!)) : sweep;
}

function currentCommit(): string {
  const revision = gitRevision();
  if (!revision) return 'unknown';
  return `${revision.commit}${revision.changesDigest ? '+dirty' : ''}`;
}

function machine(): string {
  const cpus = os.cpus();
  return (
    `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ` +
    `${os.type()} ${os.release()}, Node.js ${process.version}; load average ${os.loadavg()[0]!.toFixed(1)} ` +
    'when the sweep started (a shared machine: compare ratios within one sweep)'
  );
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (options.render) {
    const report = JSON.parse(await readFile(options.render, 'utf8')) as BenchReport;
    const { markdown } = await writeReport(report, options.out);
    console.log(`wrote ${markdown} from ${options.render}`);
    return 0;
  }
  const configs = selectedConfigs(options);
  if (options.list || configs.length === 0) {
    for (const config of configs) console.log(configLabel(config));
    if (configs.length === 0) console.error('no configuration matches --only');
    return configs.length === 0 ? 2 : 0;
  }
  for (const [name, value] of Object.entries(BENCH_ENV)) process.env[name] ??= value;
  process.env.MEL_ENGINE_URL = `http://127.0.0.1:${options.doublePort}`;
  const log = createLogger('bench');
  const logDir = path.join(process.env.MEL_STACK_DIR!, 'logs');
  await mkdir(logDir, { recursive: true });

  const stack = await Stack.prepare(log);
  const env: Omit<BenchEnv, 'client'> = {
    endpoints: stack.endpoints,
    doublePort: options.doublePort,
    tokenizerDir: WARM_MODEL_DIR,
    logDir,
    budgetMs: options.budgetMs,
  };
  // The stack checks that an engine answers: a double stands in while it starts.
  const probe = await startDouble(configs[0]!, { ...env, client: undefined as never }, 'stack-probe');
  const started = await stack.up().finally(() => probe.double.stop());
  const client = await connectClient(stack.endpoints);
  stopOnSignal(async () => {
    await stopAllProcesses();
    if (started.length > 0) await stack.down(started);
  });

  const report: BenchReport = {
    machine: machine(),
    date: new Date().toISOString().slice(0, 10),
    commit: currentCommit(),
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
    latencyModels: Object.fromEntries(
      [...new Set(configs.map((c) => c.latencyModel))].map((name) => [
        name,
        LATENCY_PROFILES[name as keyof typeof LATENCY_PROFILES],
      ]),
    ),
    configs: [],
  };
  const line = new StatusLine({ spinner: true, plain: (text) => log.info(text) });
  try {
    for (const [index, config] of configs.entries()) {
      const label = `[${index + 1}/${configs.length}] ${configLabel(config)}`;
      line.update(label, true);
      const failedFirst = report.configs.find((done) => !done.ok && noLargerThan(done, config));
      const result = failedFirst
        ? skipped(config, failedFirst)
        : await measure(config, { ...env, client }, (detail) => line.update(`${label}  ${detail}`));
      report.configs.push(result);
      line.print(
        `${result.ok ? '✓' : '✗'} ${label}: ${result.stepSeconds?.toFixed(2) ?? '–'} s/step` +
          `${result.error ? `  (${result.error.split('\n')[0]})` : ''}  [${clock(result.wallSeconds * 1000)}]`,
      );
      await writeReport(report, options.out);
    }
  } finally {
    line.stop();
    await client.connection.close();
    if (started.length > 0) await stack.down(started);
  }
  const failed = report.configs.filter((c) => !c.ok).length;
  console.log(
    `wrote ${path.join(options.out, 'benchmarks.md')} and benchmarks.json: ` +
      `${report.configs.length - failed} configurations measured, ${failed} failed`,
  );
  return 0;
}

/** Not measured: a configuration no larger failed already. */
function skipped(config: BenchConfig, failed: ConfigResult): ConfigResult {
  const error = `not run: ${configLabel(failed)} failed first (${failed.error?.split('\n')[0] ?? 'no reason'})`;
  return summarise(config, { ok: false, error, steps: [] }, 0);
}

async function measure(
  config: BenchConfig,
  env: BenchEnv,
  onProgress: (detail: string) => void,
): Promise<ConfigResult> {
  const started = performance.now();
  let measured: Measured;
  try {
    measured =
      config.system === 'tinker-cookbook'
        ? await measureCookbook(config, env, onProgress)
        : await measureMelTemporal(config, env, onProgress);
  } catch (error) {
    measured = { ok: false, error: redactedMessage(error), steps: [] };
  }
  return summarise(config, measured, (performance.now() - started) / 1000);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`error: ${redactedMessage(error)}`);
    process.exit(1);
  },
);
