import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { HistoryAndWorkflowId } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH } from './support.js';

const FIXTURES = path.join(import.meta.dirname, '..', '..', 'fixtures', 'histories');
const fixtures = readdirSync(FIXTURES).filter((file) => file.endsWith('.json'));

// Recorded with scripts/record-history.ts from real runs. Replaying them runs the current workflow code against
// what earlier code did; any non-determinism (a reordered, added or removed command) fails here. Needs no server.
describe('replay of recorded workflow histories', () => {
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
