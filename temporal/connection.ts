import tls from 'node:tls';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Endpoints } from '../common/env.js';
import { processTracing } from '../telemetry/tracing.js';

/** The address and its access (TLS, API key, headers), for a client's or a worker's connection alike. */
export function temporalConnectionOptions(endpoints: Endpoints) {
  return { address: endpoints.temporalAddress, ...endpoints.temporalAccess };
}

export async function connectClient(endpoints: Endpoints): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(endpoints)).catch(
    async (error: unknown) => {
      throw await withTlsDiagnosis(endpoints, error);
    },
  );
  // With tracing on, a run's trace starts where the client starts its workflow (telemetry/tracing.ts).
  const tracing = processTracing();
  return new Client({
    connection,
    namespace: endpoints.temporalNamespace,
    ...(tracing ? { plugins: [tracing.plugin] } : {}),
  });
}

export async function connectWorker(endpoints: Endpoints): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(endpoints)).catch(async (error: unknown) => {
    throw await withTlsDiagnosis(endpoints, error);
  });
}

/**
 * A failed connection's error, or, when the cause is TLS (an untrusted server certificate, a client certificate
 * the server requires or refuses), an error that says so: the client's own error is only "Failed to connect
 * before the deadline". Found by a TLS handshake of our own with the same settings.
 */
async function withTlsDiagnosis(endpoints: Endpoints, error: unknown): Promise<unknown> {
  const settings = endpoints.temporalAccess?.tls;
  if (!settings) return error;
  const problem = await tlsHandshakeProblem(endpoints.temporalAddress, settings === true ? {} : settings);
  if (problem === undefined) return error;
  return new Error(`cannot connect to Temporal at ${endpoints.temporalAddress} over TLS: ${problem}`, {
    cause: error,
  });
}

type TlsSettings = Exclude<NonNullable<NonNullable<Endpoints['temporalAccess']>['tls']>, boolean>;

/** The handshake's error message, or undefined when it succeeds and the server does not hang up at once. */
function tlsHandshakeProblem(address: string, settings: TlsSettings): Promise<string | undefined> {
  const separator = address.lastIndexOf(':');
  const socket = tls.connect({
    host: address.slice(0, separator).replace(/^\[(.*)\]$/, '$1'),
    port: Number(address.slice(separator + 1)),
    servername: settings.serverNameOverride,
    ca: optionalBuffer(settings.serverRootCACertificate),
    cert: optionalBuffer(settings.clientCertPair?.crt),
    key: optionalBuffer(settings.clientCertPair?.key),
    ALPNProtocols: ['h2'],
  });
  return new Promise<string | undefined>((resolve) => {
    let timer = setTimeout(() => resolve(undefined), 5_000);
    socket.on('error', (error) => resolve(error.message));
    // With TLS 1.3 a server refuses a client certificate only after the handshake: wait a moment for its alert.
    socket.on('secureConnect', () => {
      clearTimeout(timer);
      timer = setTimeout(() => resolve(undefined), 1_000);
    });
  }).finally(() => socket.destroy());
}

function optionalBuffer(bytes: Uint8Array | undefined): Buffer | undefined {
  return bytes ? Buffer.from(bytes) : undefined;
}
