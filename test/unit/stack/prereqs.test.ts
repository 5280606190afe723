import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseGoVersion,
  parsePythonVersion,
  portIsFree,
  PrerequisiteError,
  requireFreePort,
  requireGo,
  requirePython,
} from '../../../stack/prereqs.js';

function listenOnFreePort(): Promise<net.Server & { port: number }> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve(Object.assign(server, { port }));
    });
  });
}

describe('port checks', () => {
  it('names the port, the service and the variable to change when a port is taken', async () => {
    const server = await listenOnFreePort();
    try {
      expect(await portIsFree(server.port)).toBe(false);
      const error = await requireFreePort(server.port, 'temporal', 'MEL_TEMPORAL_PORT').catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PrerequisiteError);
      expect((error as Error).message).toContain(String(server.port));
      expect((error as Error).message).toContain('temporal');
      expect((error as Error).message).toContain('MEL_TEMPORAL_PORT=');
    } finally {
      server.close();
    }
  });

  it('accepts a free port', async () => {
    const server = await listenOnFreePort();
    const { port } = server;
    await new Promise((resolve) => server.close(resolve));
    await expect(requireFreePort(port, 'temporal', 'MEL_TEMPORAL_PORT')).resolves.toBeUndefined();
  });
});

describe('toolchain checks', () => {
  const saved = { PATH: process.env.PATH, HOME: process.env.HOME, MEL_PYTHON: process.env.MEL_PYTHON };
  afterEach(() => Object.assign(process.env, saved));

  function withEmptyPath() {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'mel-empty-'));
    process.env.PATH = empty;
    process.env.HOME = empty;
    delete process.env.MEL_PYTHON;
  }

  it('explains how to install Go when it is missing', async () => {
    withEmptyPath();
    await expect(requireGo('the Temporal CLI')).rejects.toThrow(
      /Go is not installed.*Temporal CLI[\s\S]*fix: install Go/,
    );
  });

  it('explains how to get Python 3.12+ when none is found', async () => {
    withEmptyPath();
    await expect(requirePython()).rejects.toThrow(/No Python 3\.12 or newer[\s\S]*fix:.*MEL_PYTHON/);
  });

  it('finds a Python 3.12+ interpreter on this machine', async () => {
    const python = await requirePython();
    expect(python).toMatch(/python/);
  });

  it('parses tool versions', () => {
    expect(parseGoVersion('go version go1.26.8 linux/amd64')).toEqual([1, 26]);
    expect(parseGoVersion('no go here')).toBeUndefined();
    expect(parsePythonVersion('3.12')).toEqual([3, 12]);
  });
});
