import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadEnv, resolveEndpoints } from '../../../common/env.js';

let dir: string;
let configFile: string;
const CA_PEM = '-----BEGIN CERTIFICATE-----\nnot-a-real-ca\n-----END CERTIFICATE-----\n';

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'temporal-env-'));
  await writeFile(path.join(dir, 'ca.pem'), CA_PEM);
  configFile = path.join(dir, 'temporal.toml');
  await writeFile(
    configFile,
    [
      '[profile.default]',
      'address = "default.example:7233"',
      '',
      '[profile.cloud]',
      'address = "ns.acct.tmprl.cloud:7233"',
      'namespace = "ns.acct"',
      'api_key = "key-from-profile"',
      '[profile.cloud.grpc_meta]',
      'x-team = "mel"',
      '',
      '[profile.mtls]',
      'address = "temporal.internal:7233"',
      '[profile.mtls.tls]',
      `server_ca_cert_path = "${path.join(dir, 'ca.pem')}"`,
      'server_name = "temporal.internal"',
      'client_cert_data = "cert"',
    ].join('\n'),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const text = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString() : undefined);
const temporalOf = (source: NodeJS.ProcessEnv) => loadEnv(source).temporal;

describe("Temporal's standard client configuration", () => {
  it('without any: the local stack, namespace default, plain connection', () => {
    expect(temporalOf({})).toEqual({ address: undefined, namespace: 'default', access: {} });
  });

  it('reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY (TLS on with a key) and gRPC headers', () => {
    const endpoints = resolveEndpoints(
      loadEnv({
        TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
        TEMPORAL_NAMESPACE: 'ns.acct',
        TEMPORAL_API_KEY: 'secret',
        TEMPORAL_GRPC_META_X_TEAM: 'mel',
      }),
    );
    expect(endpoints).toMatchObject({
      temporalAddress: 'ns.acct.tmprl.cloud:7233',
      temporalNamespace: 'ns.acct',
      temporalUiUrl: undefined,
      temporalAccess: { apiKey: 'secret', tls: true, metadata: { 'x-team': 'mel' } },
    });
  });

  it('keeps MEL_TEMPORAL_ADDRESS and MEL_TEMPORAL_NAMESPACE as aliases; the same value under both names is fine', () => {
    expect(temporalOf({ MEL_TEMPORAL_ADDRESS: 'a:7233', MEL_TEMPORAL_NAMESPACE: 'n' })).toMatchObject({
      address: 'a:7233',
      namespace: 'n',
    });
    expect(temporalOf({ MEL_TEMPORAL_ADDRESS: 'a:7233', TEMPORAL_ADDRESS: 'a:7233' }).address).toBe('a:7233');
  });

  it('refuses an alias that disagrees with the standard variable, naming both', () => {
    expect(() => loadEnv({ MEL_TEMPORAL_ADDRESS: 'a:7233', TEMPORAL_ADDRESS: 'b:7233' })).toThrow(
      ConfigError,
    );
    expect(() => loadEnv({ MEL_TEMPORAL_NAMESPACE: 'x', TEMPORAL_NAMESPACE: 'y' })).toThrow(
      /TEMPORAL_NAMESPACE=y and MEL_TEMPORAL_NAMESPACE=x disagree/,
    );
  });

  it("takes TEMPORAL_CONFIG_FILE's default profile, or the one TEMPORAL_PROFILE names", () => {
    expect(temporalOf({ TEMPORAL_CONFIG_FILE: configFile }).address).toBe('default.example:7233');
    expect(temporalOf({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud' })).toEqual({
      address: 'ns.acct.tmprl.cloud:7233',
      namespace: 'ns.acct',
      access: { apiKey: 'key-from-profile', tls: true, metadata: { 'x-team': 'mel' } },
    });
  });

  it('lets a variable, standard or alias, override the profile', () => {
    const cloud = { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud' };
    expect(temporalOf({ ...cloud, TEMPORAL_NAMESPACE: 'other' }).namespace).toBe('other');
    expect(temporalOf({ ...cloud, MEL_TEMPORAL_ADDRESS: 'proxy:7233' }).address).toBe('proxy:7233');
  });

  it('reads the server CA and name of a TLS profile, and refuses a client certificate without its key', () => {
    const mtls = { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'mtls' };
    expect(() => loadEnv(mtls)).toThrow(/mTLS needs both a client certificate and its key/);
    const tls = temporalOf({ ...mtls, TEMPORAL_TLS_CLIENT_KEY_DATA: 'key' }).access.tls;
    if (typeof tls !== 'object') throw new Error(`expected a TLS configuration, got ${String(tls)}`);
    expect(tls.serverNameOverride).toBe('temporal.internal');
    expect(text(tls.serverRootCACertificate)).toBe(CA_PEM);
    expect([tls.clientCertPair?.crt, tls.clientCertPair?.key].map(text)).toEqual(['cert', 'key']);
  });

  it('refuses a missing config file, an unknown profile, and TLS without an address', () => {
    expect(() => loadEnv({ TEMPORAL_CONFIG_FILE: path.join(dir, 'absent.toml') })).toThrow(
      /TEMPORAL_CONFIG_FILE: no file at/,
    );
    expect(() => loadEnv({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'nope' })).toThrow(
      /TEMPORAL_PROFILE=nope.*Profile 'nope' not found/,
    );
    expect(() => loadEnv({ TEMPORAL_API_KEY: 'k' })).toThrow(/no Temporal address/);
    expect(() =>
      loadEnv({ TEMPORAL_ADDRESS: 'a:1', TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' }),
    ).toThrow(/TEMPORAL_TLS_SERVER_NAME/);
  });
});
