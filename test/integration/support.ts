import type { Client } from '@temporalio/client';
import { resolveEndpoints } from '../../common/env.js';
import { connectClient } from '../../temporal/connection.js';
import type { TaskQueueRole } from '../../temporal/shared.js';
import { startWorkersInProcess } from '../../workers/in-process.js';

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
