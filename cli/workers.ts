/** Workers for commands that need them: in this process (`--with-workers`), or a check that some are running. */
import { createLogger } from '../common/logger.js';
import { installTemporalRuntime } from '../temporal/runtime.js';
import { startWorkersInProcess, type InProcessWorkers } from '../workers/in-process.js';
import type { CliContext } from './context.js';
import { queuesWithoutWorkers } from './run-state.js';

export async function startCliWorkers(context: CliContext): Promise<InProcessWorkers> {
  // Only errors: the SDK's warnings (activity retries, idle queues) would break the progress bar.
  installTemporalRuntime(createLogger('worker'), 'ERROR');
  return startWorkersInProcess(context.endpoints);
}

/** A warning when no worker polls some task queue (work sent there waits), else undefined. */
export async function missingWorkersWarning(
  context: CliContext,
  command: string,
): Promise<string | undefined> {
  const missing = await queuesWithoutWorkers(context);
  if (missing.length === 0) return undefined;
  return (
    `no worker polls ${missing.join(', ')}: the work waits until one does. ` +
    `Start \`npm run worker\` in another terminal, or use \`mel ${command} --with-workers\`.`
  );
}

/**
 * Runs `body` with the workers in this process (`--with-workers`), or else warns on stderr when no worker polls
 * some task queue; in-process workers are stopped afterwards, whatever happens.
 */
export async function withCliWorkers<T>(
  context: CliContext,
  options: { withWorkers?: boolean; command: string },
  body: () => Promise<T>,
): Promise<T> {
  const workers = options.withWorkers ? await startCliWorkers(context) : undefined;
  try {
    const warning = workers ? undefined : await missingWorkersWarning(context, options.command);
    if (warning) process.stderr.write(`warning: ${warning}\n`);
    return await body();
  } finally {
    await workers?.stop();
  }
}
