/**
 * `npm run chaos`: the chaos drill (chaos/): one real run on the local stack while its workers are killed with
 * SIGKILL at random moments and Temporal, FerretDB and the engine are restarted, then the checks. `--seed` replays
 * a drill, `--short` is the form CI runs; `--help` lists the options.
 */
import path from 'node:path';
import { loadEnv, REPO_ROOT } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { redactedMessage } from '../common/redact.js';
import { checkLines, runDrill, writeSummary } from '../chaos/drill.js';
import { drillRunConfig } from '../chaos/run-config.js';
import { DrillOptionsError, parseDrillArgs, USAGE } from '../chaos/options.js';
import { loadRunConfig } from '../mel/node.js';
import { Stack } from '../stack/stack.js';

const log = createLogger('chaos');

async function main(argv: string[]): Promise<number> {
  const settings = parseDrillArgs(argv);
  if (settings === 'help') {
    console.log(USAGE);
    return 0;
  }
  const env = loadEnv();
  const stack = await Stack.prepare(log, env);
  await stack.up();
  const template = await loadRunConfig(path.join(REPO_ROOT, 'configs', 'demo.json'));
  const config = drillRunConfig(template, settings);
  const summary = await runDrill(settings, {
    stack,
    env,
    log,
    config,
    command: ['npm run chaos --', ...argv].join(' '),
  });
  const out = settings.out ?? path.join(summary.dir, 'summary.json');
  await writeSummary(summary, out);
  console.log(
    `\nchaos drill, seed ${summary.seed}, run ${summary.runId}, ${summary.engine} engine: ${summary.durationS} s`,
  );
  for (const line of summary.plan) console.log(`  planned ${line}`);
  for (const record of summary.faults) {
    const where = record.injected
      ? `fired at ${record.atS} s, step ${record.step} ${record.stage}`
      : `NOT fired: ${record.note}`;
    console.log(`  ${record.fault.id}: ${where}${record.detail ? ` (${record.detail})` : ''}`);
  }
  console.log('');
  for (const line of checkLines(summary)) console.log(line);
  if (summary.error) console.log(`FAIL  the drill itself: ${summary.error}`);
  console.log(
    `\n${summary.ok ? 'PASSED' : 'FAILED'}; summary: ${out}; replay: npm run chaos -- --seed ${summary.seed}${settings.short ? ' --short' : ''}`,
  );
  return summary.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof DrillOptionsError) {
      console.error(`error: ${error.message}`);
      process.exit(2);
    }
    log.error(redactedMessage(error));
    process.exit(1);
  },
);
