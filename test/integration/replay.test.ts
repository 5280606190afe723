import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH } from '../../workers/workers.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'histories');
const fixtures = readdirSync(FIXTURES).filter((file) => file.endsWith('.json'));

// Recorded with scripts/record-history.ts from real runs. Replaying them runs the current workflow code against
// what earlier code did; any non-determinism (a reordered, added or removed command) throws here.
describe('replay of recorded workflow histories', () => {
  it('has recorded histories to replay', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  it.each(fixtures)('%s replays deterministically', async (file) => {
    const history: unknown = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8'));
    await expect(
      Worker.runReplayHistory(
        { workflowsPath: WORKFLOWS_PATH },
        history as Parameters<typeof Worker.runReplayHistory>[1],
      ),
    ).resolves.toBeUndefined();
  });
});
