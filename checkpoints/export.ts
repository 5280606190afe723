/**
 * `mel export`'s work: a policy a run saved, written out as its LoRA adapter (PEFT's layout, as the engine saved it
 * for sampling) and, given the base model's weights, a merged Hugging Face model folder, with a manifest that says
 * where it came from. The folder appears whole or not at all: everything is written beside it first.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DownloadedArchive } from '../engine/checkpoint-archive.js';
import type { PolicyRef } from '../temporal/contracts/common.js';
import { mergeLora } from './merge.js';

export const ADAPTER_FILES = ['adapter_model.safetensors', 'adapter_config.json'];
export const MANIFEST_FILE = 'export.json';

export interface ArchiveDownloader {
  downloadSamplerArchive(samplerPath: string, file: string): Promise<DownloadedArchive>;
}

export interface ExportRequest {
  engine: ArchiveDownloader;
  runId: string;
  /** The step whose update saved the policy; null for a run's initial policy. */
  step: number | null;
  policy: PolicyRef;
  /** The base model as the engine names it. */
  baseModel: string;
  outDir: string;
  /** Merge the adapter into this folder of the base model's weights (needs torch and peft: the engine venv). */
  merge?: { python: string; baseModelDir: string };
  /** Called as each part starts, for progress lines. */
  onStage?: (stage: 'download' | 'unpack' | 'merge') => void;
}

export interface ExportManifest {
  runId: string;
  step: number | null;
  samplerPath: string;
  statePath: string;
  /** Optimizer updates behind the weights. */
  updates: number;
  baseModel: string;
  archive: { bytes: number; sha256: string };
  adapterDir: 'adapter';
  /** Absent when only the adapter was exported. */
  mergedDir?: 'merged';
  mergedFrom?: string;
  exportedAt: string;
}

export async function exportCheckpoint(request: ExportRequest): Promise<ExportManifest> {
  const { outDir, policy } = request;
  await refuseExisting(outDir);
  const staging = `${outDir}.partial`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    request.onStage?.('download');
    const archive = await request.engine.downloadSamplerArchive(
      policy.samplerPath,
      path.join(staging, 'adapter.tar.gz'),
    );
    request.onStage?.('unpack');
    const adapterDir = path.join(staging, 'adapter');
    await unpackAdapter(archive.file, adapterDir);
    await rm(archive.file);
    if (request.merge) {
      request.onStage?.('merge');
      await mergeLora({
        python: request.merge.python,
        baseModelDir: request.merge.baseModelDir,
        adapter: adapterDir,
        outDir: path.join(staging, 'merged'),
      });
    }
    const manifest: ExportManifest = {
      runId: request.runId,
      step: request.step,
      samplerPath: policy.samplerPath,
      statePath: policy.statePath,
      updates: policy.updates,
      baseModel: request.baseModel,
      archive: { bytes: archive.bytes, sha256: archive.sha256 },
      adapterDir: 'adapter',
      ...(request.merge ? { mergedDir: 'merged' as const, mergedFrom: request.merge.baseModelDir } : {}),
      exportedAt: new Date().toISOString(),
    };
    await writeFile(path.join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await rm(outDir, { recursive: true, force: true });
    await rename(staging, outDir);
    return manifest;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** A folder that exists and holds anything is never overwritten. */
async function refuseExisting(outDir: string): Promise<void> {
  if (!existsSync(outDir)) return;
  const entries = await readdir(outDir).catch(() => null);
  if (entries === null) throw new Error(`${outDir} exists and is not a folder`);
  if (entries.length > 0)
    throw new Error(`${outDir} is not empty: choose a new folder (nothing is overwritten)`);
}

/** `tar -xzf` into `dir`, then checks that the archive held an adapter. */
async function unpackAdapter(archive: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await promisify(execFile)('tar', ['-xzf', archive, '-C', dir, '--no-same-owner']);
  const found = await readdir(dir);
  const missing = ADAPTER_FILES.filter((file) => !found.includes(file));
  if (missing.length > 0) {
    throw new Error(
      `the checkpoint archive holds no LoRA adapter (missing ${missing.join(', ')}; found ${found.join(', ') || 'nothing'})`,
    );
  }
}
