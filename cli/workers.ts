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
