/**
 * TLS in front of the stack's Temporal, for the connection tests: the Temporal CLI's dev server has no TLS
 * options (`temporal server start-dev --help`), so a gRPC proxy terminates TLS (and mTLS) with certificates made
 * here by openssl, forwards each call to the dev server over plain HTTP/2, and records the headers it saw.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  caPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  clientCertPath: string;
  clientKeyPath: string;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, signed by it, written into `dir`. */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  const file = (name: string) => path.join(dir, name);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    ...['req', '-x509', ...newKey, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1'],
    ...['-subj', '/CN=mel-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE'],
    ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
  const sign = async (name: string, extensions: string[]) => {
    await writeFile(file(`${name}.ext`), `${extensions.join('\n')}\n`);
    await run('openssl', [
      ...[
        'req',
        ...newKey,
        '-keyout',
        file(`${name}.key`),
        '-out',
        file(`${name}.csr`),
        '-subj',
        `/CN=${name}`,
      ],
    ]);
    await run('openssl', [
      ...['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key')],
      ...['-CAcreateserial', '-days', '1', '-out', file(`${name}.pem`), '-extfile', file(`${name}.ext`)],
    ]);
  };
  const leaf = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature'];
  await sign('server', [...leaf, 'subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth']);
  await sign('client', [...leaf, 'extendedKeyUsage=clientAuth']);
  return {
    caPath: file('ca.pem'),
    serverCertPath: file('server.pem'),
    serverKeyPath: file('server.key'),
    clientCertPath: file('client.pem'),
    clientKeyPath: file('client.key'),
  };
}

export interface SeenCall {
  path: string;
  authorization?: string;
}

export interface TlsProxy {
  address: string;
  /** Every call forwarded, in order. */
  calls: SeenCall[];
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 with TLS (requiring a client certificate signed by the CA when `mutual`) and forwards each
 * gRPC call to `upstream` (host:port, plain HTTP/2): headers, messages both ways, trailers.
 */
export async function startTlsProxy(
  certificates: TestCertificates,
  upstream: string,
  options: { mutual: boolean },
): Promise<TlsProxy> {
  const calls: SeenCall[] = [];
  const session = http2.connect(`http://${upstream}`);
  session.on('error', () => undefined);
  const server = http2.createSecureServer({
    key: await readFile(certificates.serverKeyPath),
    cert: await readFile(certificates.serverCertPath),
    ca: await readFile(certificates.caPath),
    requestCert: options.mutual,
    rejectUnauthorized: options.mutual,
  });
  server.on('stream', (stream, headers) => {
    calls.push({ path: String(headers[':path']), authorization: headers.authorization });
    forward(stream, session.request(headers));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: async () => {
      session.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** One call, from the TLS side (`inbound`) to the dev server (`outbound`) and back, trailers included. */
function forward(inbound: http2.ServerHttp2Stream, outbound: http2.ClientHttp2Stream): void {
  let trailers: http2.OutgoingHttpHeaders = {};
  inbound.pipe(outbound);
  outbound.on('response', (headers, flags) => {
    // A response without messages (an error) carries its gRPC status in the headers and ends the stream there.
    const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    inbound.respond(
      withoutPseudoRequestHeaders(headers),
      endStream ? { endStream } : { waitForTrailers: true },
    );
    if (!endStream) outbound.pipe(inbound);
  });
  outbound.on('trailers', (received) => {
    trailers = received;
  });
  inbound.on('wantTrailers', () => inbound.sendTrailers(trailers));
  inbound.on('close', () => outbound.close(http2.constants.NGHTTP2_CANCEL));
  outbound.on('error', () => inbound.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
  inbound.on('error', () => outbound.close(http2.constants.NGHTTP2_CANCEL));
}

function withoutPseudoRequestHeaders(headers: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !name.startsWith(':') || name === ':status'),
  );
}
