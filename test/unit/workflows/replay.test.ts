import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { HistoryAndWorkflowId } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { installQuietRuntime, WORKFLOWS_PATH } from './support.js';

const FIXTURES = path.join(import.meta.dirname, '..', '..', 'fixtures', 'histories');
const fixtures = readdirSync(FIXTURES).filter((file) => file.endsWith('.json'));

// Replaying a recorded history runs the current workflow code against what earlier code did; any non-determinism
// (a reordered, added or removed command) fails here. Needs no server. run-workflow.json and step-workflow.json
// were recorded with scripts/record-history.ts from a real run; run-workflow-{controls,failed-step,paused-at-start}
// from run.test.ts's fake-activity runs on the run workflow as it was before its refactor into helpers (pause,
// resume, stop, refused updates, a failed step retried), run-workflow-continued-as-new from the first execution
// of its continue-as-new test, run-workflow-failed-start from its failed-start test (initPolicy fails, the run
// pauses, resume retries the start); step-workflow-{mel,grpo}-verify-as-rolled from fake-activity steps with a
// fanOut, as the step workflow was before it built the GRPO datums a prompt chunk at a time (at 889a9f7);
// step-workflow-mel-grpo-gradients likewise, as it sent the GRPO datums ahead without waiting for contrast (at 01bf898).
describe('replay of recorded workflow histories', () => {
  beforeAll(installQuietRuntime);

  it('has recorded histories to replay', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  it('replays every recorded history deterministically', { timeout: 120_000 }, async () => {
    const histories: HistoryAndWorkflowId[] = fixtures.map((file) => ({
      workflowId: file,
      history: JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as HistoryAndWorkflowId['history'],
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const { workflowId, error } of Worker.runReplayHistories(
      { workflowsPath: WORKFLOWS_PATH },
      histories,
    )) {
      replayed++;
      if (error) failures.push(`${workflowId}: ${error.name}: ${error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(fixtures.length);
  });
});
