import type { Client } from '@temporalio/client';
import { afterAll, beforeAll } from 'vitest';
import { resolveEndpoints } from '../../common/env.js';
import { connectClient } from '../../temporal/connection.js';
import type { TaskQueueRole } from '../../temporal/contracts/common.js';
import { startWorkersInProcess, type InProcessWorkers } from '../../workers/in-process.js';

export const endpoints = resolveEndpoints();

export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Real workers in this test process, against the running stack; `stop()` shuts them down. */
export function startWorkers(roles?: TaskQueueRole[]) {
  return startWorkersInProcess(endpoints, roles);
}

export function client(): Promise<Client> {
  return connectClient(endpoints);
}

/**
 * A Temporal client and in-process workers for the tests of one file: connected before them (after any
 * `beforeAll` registered earlier), shut down after them. Read the fields inside tests only.
 */
export function useClientAndWorkers(): { temporal: Client; workers: InProcessWorkers } {
  const handle = {} as { temporal: Client; workers: InProcessWorkers };
  beforeAll(async () => {
    handle.temporal = await client();
    handle.workers = await startWorkers();
  });
  afterAll(async () => {
    await handle.workers?.stop();
    await handle.temporal?.connection.close();
  });
  return handle;
}
