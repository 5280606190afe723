import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Endpoints } from '../common/env.js';

/** The address and its access (TLS, API key, headers), for a client's or a worker's connection alike. */
export function temporalConnectionOptions(endpoints: Endpoints) {
  return { address: endpoints.temporalAddress, ...endpoints.temporalAccess };
}

export async function connectClient(endpoints: Endpoints): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(endpoints));
  return new Client({ connection, namespace: endpoints.temporalNamespace });
}

export function connectWorker(endpoints: Endpoints): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(endpoints));
}
