/**
 * `npm run demo`: installs and starts the local stack, then runs a short MEL training (configs/demo.json, 3 steps)
 * on the built-in arithmetic set with the tiny local model exactly as `mel train --with-workers` does (workers in
 * this process, the same progress bar and per-step metrics), lists the meta-experiences as `mel experiences`
 * does, and ends with the links and the `mel` commands that look deeper. The stack stays up afterwards.
 */
import path from 'node:path';
import { REPO_ROOT } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { redactCredentials, redactedMessage } from '../common/redact.js';
import { CliContext } from '../cli/context.js';
import { experienceRow, lookDeeperCommands, renderExperiences } from '../cli/experience-commands.js';
import { fields } from '../cli/format.js';
import { trainRun } from '../cli/run-commands.js';
import { loadStatus } from '../cli/run-state.js';
import { Stack } from '../stack/stack.js';
import { listMetaExperiences } from '../store/queries.js';
import { loadRunConfig } from '../mel/node.js';
import type { RunConfig } from '../mel/run-config.js';

const log = createLogger('demo');

async function demoConfig(): Promise<RunConfig> {
  const template = await loadRunConfig(path.join(REPO_ROOT, 'configs', 'demo.json'));
  return {
    ...template,
    runId: `${template.runId}-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`,
  };
}

/** Where the run can be seen: its history in the Temporal UI, its steps there, its documents in MongoDB. */
async function whereToLook(context: CliContext, runId: string): Promise<string> {
  const { endpoints } = context;
  const status = await loadStatus(context, runId, 0);
  const stepsQuery = endpoints.temporalUiUrl
    ? `${endpoints.temporalUiUrl}/namespaces/${endpoints.temporalNamespace}/workflows?query=` +
      encodeURIComponent(`MelRunId="${runId}"`)
    : undefined;
  return fields([
    ['temporal ui', status.workflow?.url],
    ['its steps', stepsQuery],
    ['mongodb', `${redactCredentials(endpoints.mongoUri)} database ${endpoints.mongoDb}, runId "${runId}"`],
  ]);
}

async function main() {
  const stack = await Stack.prepare(log);
  await stack.up();
  const config = await demoConfig();
  // The same environment as the stack's: the CLI reaches the services the stack just started.
  const context = new CliContext();
  try {
    console.log(
      `\nMEL run ${config.runId}: ${config.steps} steps × ${config.batchSize} prompts × ${config.groupSize} samples`,
    );
    await trainRun(context, config, { withWorkers: true });
    const rows = (await listMetaExperiences(await context.db(), config.runId)).map(experienceRow);
    console.log(`\n${renderExperiences(rows)}`);
    console.log(`\n${await whereToLook(context, config.runId)}`);
    console.log('\nThe stack is still running; stop it with: npm run stack -- down');
    console.log(
      `\nLook deeper:\n${lookDeeperCommands(config.runId, rows)
        .map((line) => `  ${line}`)
        .join('\n')}`,
    );
  } finally {
    await context.close();
  }
}

main().catch((error: unknown) => {
  log.error(redactedMessage(error));
  process.exit(1);
});
