import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadSamplerArchive, parseSamplerPath } from '../../../engine/checkpoint-archive.js';
import { TinkerClient } from '../../../engine/tinker.js';
import { json, startFakeServer } from './fake-http.js';

const ARCHIVE = Buffer.from('not really a tar.gz, but bytes to pass through'.repeat(1000));

describe('parseSamplerPath', () => {
  it('reads both forms of a sampler path and refuses anything else', () => {
    expect(parseSamplerPath('tinker://model_1/sampler_weights/step-3')).toEqual({
      modelId: 'model_1',
      name: 'step-3',
    });
    expect(parseSamplerPath('tinker://model_1/step-3')).toEqual({ modelId: 'model_1', name: 'step-3' });
    for (const bad of ['tinker://model_1/weights/step-3', 'tinker://m/../x', 'https://x/y', 'tinker://m']) {
      expect(() => parseSamplerPath(bad)).toThrow(/not a sampler checkpoint path/);
    }
  });
});

describe('downloadSamplerArchive', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'archive-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('follows the redirect to the bytes, and sends the API key to the engine only', async () => {
    const storage = await startFakeServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      response.end(ARCHIVE);
    });
    const engine = await startFakeServer((request, response) => {
      response.writeHead(302, { location: `${storage.url}/signed/blob?sig=1` });
      response.end();
    });
    try {
      const file = path.join(dir, 'a.tar.gz');
      const result = await downloadSamplerArchive(
        { baseUrl: engine.url, apiKey: 'tml-secret' },
        'tinker://model_1/sampler_weights/step-3',
        file,
      );
      expect(engine.requests.map((r) => r.path)).toEqual([
        '/api/v1/training_runs/model_1/checkpoints/step-3/archive',
      ]);
      expect(engine.requests[0]!.headers['x-api-key']).toBe('tml-secret');
      expect(storage.requests).toHaveLength(1);
      expect(storage.requests[0]!.headers['x-api-key']).toBeUndefined();
      expect(await readFile(file)).toEqual(ARCHIVE);
      expect(result).toEqual({
        file,
        bytes: ARCHIVE.length,
        sha256: createHash('sha256').update(ARCHIVE).digest('hex'),
      });
    } finally {
      await Promise.all([storage.close(), engine.close()]);
    }
  });

  it("tries hosted Tinker's checkpoint id after a 404, and reports a checkpoint neither knows", async () => {
    const engine = await startFakeServer((request, response) => {
      if (request.path.includes('/sampler_weights/known/')) {
        response.writeHead(200);
        response.end(ARCHIVE);
      } else json(response, 404, { detail: 'Checkpoint not found' });
    });
    try {
      const found = await downloadSamplerArchive(
        { baseUrl: engine.url },
        'tinker://m/known',
        path.join(dir, 'k'),
      );
      expect(found.bytes).toBe(ARCHIVE.length);
      await expect(
        downloadSamplerArchive({ baseUrl: engine.url }, 'tinker://m/unknown', path.join(dir, 'u')),
      ).rejects.toThrow(/no archive of tinker:\/\/m\/unknown: 404 .*Checkpoint not found/);
      expect(existsSync(path.join(dir, 'u'))).toBe(false);
      expect(existsSync(path.join(dir, 'u.partial'))).toBe(false);
    } finally {
      await engine.close();
    }
  });

  it('leaves no file behind when the download breaks off', async () => {
    const engine = await startFakeServer((_request, response) => {
      response.writeHead(200, { 'content-length': String(ARCHIVE.length * 2) });
      response.write(ARCHIVE, () => setTimeout(() => response.destroy(), 50));
    });
    try {
      await expect(
        downloadSamplerArchive({ baseUrl: engine.url }, 'tinker://m/x', path.join(dir, 'x')),
      ).rejects.toThrow(/downloading tinker:\/\/m\/x failed/);
      expect(existsSync(path.join(dir, 'x'))).toBe(false);
      expect(existsSync(path.join(dir, 'x.partial'))).toBe(false);
    } finally {
      await engine.close();
    }
  });
});

describe('TinkerClient.deleteCheckpoint', () => {
  it("uses hosted Tinker's route, and tells a deleted, an absent and an undeletable checkpoint apart", async () => {
    const answers: Record<string, [number, unknown]> = {
      '/api/v1/training_runs/m/checkpoints/weights/s1': [200, {}],
      '/api/v1/training_runs/m/checkpoints/sampler_weights/s1': [200, {}],
      '/api/v1/training_runs/m/checkpoints/weights/gone': [404, { detail: 'Checkpoint not found' }],
      '/api/v1/training_runs/get-only/checkpoints/weights/s1': [405, { detail: 'Method Not Allowed' }],
    };
    const engine = await startFakeServer((request, response) => {
      const [status, body] = answers[request.path] ?? [404, { detail: 'Not Found' }]; // FastAPI: no such route
      json(response, status, body);
    });
    try {
      const client = new TinkerClient({ baseUrl: engine.url, maxRetries: 0 });
      expect(await client.deleteCheckpoint('tinker://m/weights/s1')).toBe('deleted');
      expect(await client.deleteCheckpoint('tinker://m/s1')).toBe('deleted');
      expect(await client.deleteCheckpoint('tinker://m/weights/gone')).toBe('absent');
      expect(await client.deleteCheckpoint('tinker://other/weights/s1')).toBe('unsupported');
      expect(await client.deleteCheckpoint('tinker://get-only/weights/s1')).toBe('unsupported');
      expect(engine.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'DELETE /api/v1/training_runs/m/checkpoints/weights/s1',
        'DELETE /api/v1/training_runs/m/checkpoints/sampler_weights/s1',
        'DELETE /api/v1/training_runs/m/checkpoints/weights/gone',
        'DELETE /api/v1/training_runs/other/checkpoints/weights/s1',
        'DELETE /api/v1/training_runs/get-only/checkpoints/weights/s1',
      ]);
    } finally {
      await engine.close();
    }
  });
});
