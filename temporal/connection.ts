import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Endpoints } from '../common/env.js';

export async function connectClient(endpoints: Endpoints): Promise<Client> {
  const connection = await Connection.connect({ address: endpoints.temporalAddress });
  return new Client({ connection, namespace: endpoints.temporalNamespace });
}

export function connectWorker(endpoints: Endpoints): Promise<NativeConnection> {
  return NativeConnection.connect({ address: endpoints.temporalAddress });
}
