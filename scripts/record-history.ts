/**
 * `npx tsx scripts/record-history.ts <workflowId> <out.json>`: saves a closed workflow's history as JSON, the
 * format `Worker.runReplayHistory` reads. Histories of step and run workflows are committed under
 * test/fixtures/histories/ so that CI replays them against the current workflow code: a change that would break
 * determinism for runs already in flight fails there first.
 */
import { writeFile } from 'node:fs/promises';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { resolveEndpoints } from '../common/env.js';
import { connectClient } from '../temporal/connection.js';

async function main(workflowId: string | undefined, out: string | undefined) {
  if (!workflowId || !out) {
    console.error('usage: npx tsx scripts/record-history.ts <workflowId> <out.json>');
    return 2;
  }
  const client = await connectClient(resolveEndpoints());
  try {
    const handle = client.workflow.getHandle(workflowId);
    const { status } = await handle.describe();
    if (status.name === 'RUNNING')
      throw new Error(`${workflowId} is still running; record closed workflows only`);
    await writeFile(out, historyToJSON(await handle.fetchHistory()));
    console.log(`wrote ${out}`);
    return 0;
  } finally {
    await client.connection.close();
  }
}

main(process.argv[2], process.argv[3]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
