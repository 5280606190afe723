/**
 * Downloads a sampler checkpoint's archive from a Tinker-API engine: a tar.gz of the LoRA adapter in PEFT's layout
 * (`adapter_model.safetensors`, `adapter_config.json`). SkyRL serves it at
 * `GET /api/v1/training_runs/<model>/checkpoints/<name>/archive`, answering with a redirect to the bytes.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { EngineError } from './engine.js';
import { describeError } from './errors.js';

export interface ArchiveSource {
  baseUrl: string;
  apiKey?: string;
}

export interface DownloadedArchive {
  file: string;
  bytes: number;
  sha256: string;
}

const MAX_REDIRECTS = 5;
/** One archive, whatever its size: a rank-32 adapter of an 8B model is a few hundred MB. */
const DOWNLOAD_TIMEOUT_MS = 60 * 60_000;

/**
 * A checkpoint path → the engine's REST coordinates: `tinker://<model>/weights/<name>` is a training state;
 * `tinker://<model>/sampler_weights/<name>` (or SkyRL's short `tinker://<model>/<name>`) sampler weights.
 */
export function parseCheckpointPath(checkpointPath: string): {
  modelId: string;
  kind: 'weights' | 'sampler_weights';
  name: string;
} {
  const match = /^tinker:\/\/([A-Za-z0-9_-]+)\/(?:(weights|sampler_weights)\/)?([A-Za-z0-9_-]+)$/.exec(
    checkpointPath,
  );
  if (!match) {
    throw new EngineError(`${checkpointPath} is not a checkpoint path (tinker://<model>/weights/<name>)`, {
      retryable: false,
    });
  }
  const kind = match[2] === 'weights' ? 'weights' : 'sampler_weights';
  return { modelId: match[1]!, kind, name: match[3]! };
}

/** `tinker://<model>/sampler_weights/<name>` (or SkyRL's short `tinker://<model>/<name>`) → model and name. */
export function parseSamplerPath(samplerPath: string): { modelId: string; name: string } {
  const parsed = /^tinker:\/\/[^/]+\/weights\//.test(samplerPath) ? undefined : tryParse(samplerPath);
  if (!parsed) {
    throw new EngineError(
      `${samplerPath} is not a sampler checkpoint path (tinker://<model>/sampler_weights/<name>)`,
      { retryable: false },
    );
  }
  return { modelId: parsed.modelId, name: parsed.name };
}

function tryParse(checkpointPath: string): ReturnType<typeof parseCheckpointPath> | undefined {
  try {
    return parseCheckpointPath(checkpointPath);
  } catch {
    return undefined;
  }
}

/** Streams the archive into `file` (through `<file>.partial`, so a broken download never looks complete). */
export async function downloadSamplerArchive(
  source: ArchiveSource,
  samplerPath: string,
  file: string,
): Promise<DownloadedArchive> {
  const { modelId, name } = parseSamplerPath(samplerPath);
  const base = `${source.baseUrl.replace(/\/+$/, '')}/api/v1/training_runs/${modelId}/checkpoints`;
  const signal = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
  let response = await fetchFollowing(source, `${base}/${name}/archive`, signal);
  // Hosted Tinker names a sampler checkpoint `sampler_weights/<name>` in this route.
  if (response.status === 404)
    response = await fetchFollowing(source, `${base}/sampler_weights/${name}/archive`, signal);
  if (!response.ok || !response.body) {
    const detail = (await response.text().catch(() => '')).slice(0, 300);
    throw new EngineError(`the engine has no archive of ${samplerPath}: ${response.status} ${detail}`, {
      retryable: false,
      status: response.status,
    });
  }
  const partial = `${file}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      measure,
      createWriteStream(partial),
    );
  } catch (error) {
    await rm(partial, { force: true });
    throw new EngineError(`downloading ${samplerPath} failed: ${describeError(error)}`, {
      retryable: true,
      cause: error,
    });
  }
  await rename(partial, file);
  return { file, bytes, sha256: hash.digest('hex') };
}

/**
 * GET with redirects followed by hand: the API key goes only to the engine's own origin, never to the storage a
 * redirect points at (a signed URL needs none).
 */
async function fetchFollowing(source: ArchiveSource, url: string, signal: AbortSignal): Promise<Response> {
  const origin = new URL(source.baseUrl).origin;
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = {};
    if (source.apiKey && current.origin === origin) headers['x-api-key'] = source.apiKey;
    let response: Response;
    try {
      response = await fetch(current, { headers, redirect: 'manual', signal });
    } catch (error) {
      throw new EngineError(`GET ${current.pathname} failed: ${describeError(error)}`, {
        retryable: true,
        cause: error,
      });
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) return response;
    if (hop >= MAX_REDIRECTS) {
      throw new EngineError(`GET ${url}: more than ${MAX_REDIRECTS} redirects`, { retryable: false });
    }
    await response.body?.cancel();
    current = new URL(location, current);
  }
}
