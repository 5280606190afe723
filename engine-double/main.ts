/**
 * The engine double as a process: `npm run engine-double -- --port 18124 --seed 1 --p-correct 0.5 ...`
 * (see `--help`). Serves the Tinker API at http://<host>:<port>/api/v1 until SIGINT or SIGTERM.
 */
import { createLogger } from '../common/logger.js';
import { parseCli, USAGE } from './cli-options.js';
import { OptionsError } from './options.js';
import { startEngineDouble } from './server.js';

async function main(): Promise<void> {
  const options = parseCli(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const logger = createLogger('engine-double');
  const double = await startEngineDouble(options, { logger });
  const { seed, pCorrect, pReplayCorrect, pUnparseable, pTruncated, pStatesAnswer, baseModel, tokenizerDir } =
    double.options;
  const latency = double.options.latency.profile;
  logger.info(
    {
      url: double.url,
      seed,
      pCorrect,
      pReplayCorrect,
      pUnparseable,
      pTruncated,
      pStatesAnswer,
      baseModel,
      tokenizerDir,
      latency,
    },
    'engine double listening',
  );
  const stop = (signal: string) => {
    logger.info({ signal, stats: double.stats() }, 'engine double stopping');
    void double.close().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    error instanceof OptionsError ? `error: ${message}\n` : `engine double failed: ${message}\n`,
  );
  process.exit(error instanceof OptionsError ? 2 : 1);
});
