/**
 * Clients and workers reach a TLS Temporal through Temporal's standard variables (TEMPORAL_ADDRESS, the TLS and
 * mTLS paths, TEMPORAL_API_KEY): a TLS proxy in front of the stack's dev server (temporal-tls.ts), with a CA and
 * certificates made by the test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv, resolveEndpoints, type Endpoints } from '../../common/env.js';
import { connectClient, connectWorker } from '../../temporal/connection.js';
import { TASK_QUEUES } from '../../temporal/contracts/common.js';
import { smokeWorkflow } from '../../workflows/index.js';
import { startWorkersInProcess } from '../../workers/in-process.js';
import { endpoints, uniqueId, useEngineDouble } from './support.js';
import { makeCertificates, startTlsProxy, type TestCertificates, type TlsProxy } from './temporal-tls.js';

const API_KEY = 'mel-test-api-key';
const WORKFLOW_SERVICE = '/temporal.api.workflowservice.v1.WorkflowService';

let dir: string;
let certificates: TestCertificates;
let proxy: TlsProxy;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'temporal-tls-'));
  certificates = await makeCertificates(dir);
  proxy = await startTlsProxy(certificates, endpoints.temporalAddress, { mutual: true });
});

afterAll(async () => {
  await proxy?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The endpoints the project resolves from these variables alone (no MEL_TEMPORAL_ADDRESS, no profile). */
function endpointsFrom(variables: Record<string, string>): Endpoints {
  const inherited = Object.entries(process.env).filter(([name]) => !/^(MEL_)?TEMPORAL_/.test(name));
  return resolveEndpoints(loadEnv({ ...Object.fromEntries(inherited), ...variables }));
}

function mutualTlsVariables(): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: proxy.address,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certificates.caPath,
    TEMPORAL_TLS_CLIENT_CERT_PATH: certificates.clientCertPath,
    TEMPORAL_TLS_CLIENT_KEY_PATH: certificates.clientKeyPath,
    TEMPORAL_API_KEY: API_KEY,
  };
}

function without(variables: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(variables).filter(([name]) => !names.includes(name)));
}

describe('Temporal over TLS, configured through the standard TEMPORAL_* variables', () => {
  const engine = useEngineDouble();

  it('runs a workflow with a client and workers connected over mTLS, sending the API key on every call', async () => {
    const tls = { ...endpointsFrom(mutualTlsVariables()), engineUrl: engine.double.url };
    const workers = await startWorkersInProcess(tls, ['cpu', 'gpuInference']);
    const client = await connectClient(tls);
    try {
      const smokeId = uniqueId('smoke-tls');
      const result = await client.workflow.execute(smokeWorkflow, {
        taskQueue: TASK_QUEUES.cpu,
        workflowId: smokeId,
        args: [{ smokeId, promptText: '1 + 1 =', maxTokens: 2 }],
      });
      expect(result.sampledTokenCount).toBeGreaterThan(0);
    } finally {
      await client.connection.close();
      await workers.stop();
    }
    const paths = new Set(proxy.calls.map((call) => call.path));
    for (const method of [
      'StartWorkflowExecution',
      'PollWorkflowTaskQueue',
      'PollActivityTaskQueue',
      'RespondActivityTaskCompleted',
    ]) {
      expect(paths).toContain(`${WORKFLOW_SERVICE}/${method}`);
    }
    expect(new Set(proxy.calls.map((call) => call.authorization))).toEqual(new Set([`Bearer ${API_KEY}`]));
  });

  it('fails clearly without the CA: the server certificate is not trusted', async () => {
    const untrusting = endpointsFrom(without(mutualTlsVariables(), ['TEMPORAL_TLS_SERVER_CA_CERT_PATH']));
    const before = proxy.calls.length;
    const untrusted = `cannot connect to Temporal at ${proxy.address} over TLS: self-signed certificate in certificate chain`;
    await expect(connectClient(untrusting)).rejects.toThrow(untrusted);
    await expect(connectWorker(untrusting)).rejects.toThrow(untrusted);
    expect(proxy.calls.length).toBe(before);
  });

  it('is refused by a server that requires a client certificate when none is configured', async () => {
    const withoutClientCertificate = without(mutualTlsVariables(), [
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
    ]);
    const before = proxy.calls.length;
    await expect(connectClient(endpointsFrom(withoutClientCertificate))).rejects.toThrow(
      /over TLS: .*certificate required/,
    );
    expect(proxy.calls.length).toBe(before);
  });
});
