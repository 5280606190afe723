/**
 * Installs what the local stack needs, once: the Temporal CLI, our FerretDB build, the SkyRL engine's Python
 * venv and the tiny local model. Everything lands under MEL_CACHE_DIR; a stamp file records the inputs each
 * artifact was built from, so a second run skips it and a changed pin rebuilds it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, tinyModelDir, type Env } from '../common/env.js';
import type { Logger } from '../common/logger.js';
import { PrerequisiteError, requireGo, requirePython, versionOf } from './prereqs.js';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
const ENGINE_PYTHON_DIR = path.join(REPO_ROOT, 'engine', 'python');
const FERRETDB_SOURCE_DIR = path.join(REPO_ROOT, 'stack', 'ferretdb');

export interface InstalledStack {
  temporalCli?: string;
  ferretdb?: string;
  python?: string;
  modelDir?: string;
}

export function cachePaths(env: Env) {
  const bin = path.join(env.MEL_CACHE_DIR, 'bin');
  return {
    bin,
    stamps: path.join(env.MEL_CACHE_DIR, 'stamps'),
    temporalCli: path.join(bin, 'temporal'),
    ferretdb: path.join(bin, 'ferretdb-mel'),
    venv: path.join(env.MEL_CACHE_DIR, 'venv'),
    venvPython: path.join(env.MEL_CACHE_DIR, 'venv', 'bin', 'python'),
    modelDir: tinyModelDir(env),
  };
}

/** Installs only what the configuration asks the project to run itself. */
export async function installStack(env: Env, log: Logger): Promise<InstalledStack> {
  const installed: InstalledStack = {};
  if (!env.MEL_TEMPORAL_ADDRESS) installed.temporalCli = await ensureTemporalCli(env, log);
  if (!env.MONGODB_URI) installed.ferretdb = await ensureFerretDb(env, log);
  if (!env.MEL_ENGINE_URL) {
    installed.python = await ensureEngineVenv(env, log);
    if (!env.MEL_BASE_MODEL) installed.modelDir = await ensureTinyModel(env, log, installed.python);
  }
  return installed;
}

async function ensureTemporalCli(env: Env, log: Logger): Promise<string> {
  const onPath = await versionOf('temporal', ['--version']);
  if (onPath && /temporal version/.test(onPath)) {
    log.info({ version: onPath }, 'using the temporal CLI on PATH');
    return 'temporal';
  }
  const paths = cachePaths(env);
  return cached(env, 'temporal-cli', TEMPORAL_CLI_MODULE, paths.temporalCli, log, async () => {
    await requireGo('the Temporal CLI');
    log.info(
      `building the Temporal CLI (go install ${TEMPORAL_CLI_MODULE}); about 4 minutes on 2 cores, once`,
    );
    await runStep('go', ['install', TEMPORAL_CLI_MODULE], { env: { ...process.env, GOBIN: paths.bin } });
  });
}

async function ensureFerretDb(env: Env, log: Logger): Promise<string> {
  const paths = cachePaths(env);
  const key = await hashFiles([
    path.join(FERRETDB_SOURCE_DIR, 'go.mod'),
    path.join(FERRETDB_SOURCE_DIR, 'main.go'),
  ]);
  return cached(env, 'ferretdb', key, paths.ferretdb, log, async () => {
    await requireGo('FerretDB');
    log.info('building FerretDB v1.24.2 (SQLite backend); about 2 minutes on 2 cores, once');
    await runStep('go', ['build', '-o', paths.ferretdb, '.'], { cwd: FERRETDB_SOURCE_DIR });
  });
}

async function ensureEngineVenv(env: Env, log: Logger): Promise<string> {
  const paths = cachePaths(env);
  const requirements = path.join(ENGINE_PYTHON_DIR, 'requirements.txt');
  const constraints = path.join(ENGINE_PYTHON_DIR, 'constraints.txt');
  const key = await hashFiles([requirements, constraints]);
  await cached(env, 'engine-venv', key, paths.venvPython, log, async () => {
    const python = await requirePython();
    log.info(
      { python },
      'creating the engine venv (SkyRL Tinker server, JAX, torch); about 2 minutes and 6 GB, once',
    );
    await rm(paths.venv, { recursive: true, force: true });
    await runStep(python, ['-m', 'venv', paths.venv]);
    await runStep(paths.venvPython, ['-m', 'pip', 'install', '--upgrade', '--quiet', 'pip']);
    await runStep(paths.venvPython, [
      '-m',
      'pip',
      'install',
      '--progress-bar',
      'off',
      '-r',
      requirements,
      '-c',
      constraints,
    ]);
    await runStep(paths.venvPython, ['-c', 'import skyrl.tinker.api, skyrl.tinker.engine']);
  });
  return paths.venvPython;
}

async function ensureTinyModel(env: Env, log: Logger, python: string): Promise<string> {
  const paths = cachePaths(env);
  const script = path.join(REPO_ROOT, 'tiny-model', 'python', 'make_tiny_model.py');
  const key = await hashFiles([script, path.join(ENGINE_PYTHON_DIR, 'constraints.txt')]);
  await cached(env, 'tiny-model', key, path.join(paths.modelDir, 'model.safetensors'), log, async () => {
    log.info({ dir: paths.modelDir }, 'creating the tiny local Qwen3 model and tokenizer');
    await runStep(python, [script, paths.modelDir], { env: { ...process.env, ...OFFLINE_ENV } });
  });
  return paths.modelDir;
}

/** Keeps model code from reaching for a hub: everything it loads is local. */
export const OFFLINE_ENV = {
  HF_HUB_OFFLINE: '1',
  TRANSFORMERS_OFFLINE: '1',
  HF_DATASETS_OFFLINE: '1',
  TOKENIZERS_PARALLELISM: 'false',
} as const;

/** Builds `artifact` with `build` unless a stamp says it was built from the same `key`. */
export async function cached(
  env: Env,
  name: string,
  key: string,
  artifact: string,
  log: Logger,
  build: () => Promise<void>,
): Promise<string> {
  const stamp = path.join(cachePaths(env).stamps, `${name}.txt`);
  const previous = existsSync(stamp) ? (await readFile(stamp, 'utf8')).trim() : undefined;
  if (previous === key && existsSync(artifact)) {
    log.debug({ name }, 'cached');
    return artifact;
  }
  const started = Date.now();
  await mkdir(path.dirname(stamp), { recursive: true });
  await mkdir(cachePaths(env).bin, { recursive: true });
  await build();
  if (!existsSync(artifact)) throw new Error(`installing ${name} finished but ${artifact} is missing`);
  await writeFile(stamp, `${key}\n`);
  log.info({ name, seconds: Math.round((Date.now() - started) / 1000) }, 'installed');
  return artifact;
}

export async function hashFiles(files: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) hash.update(await readFile(file));
  return hash.digest('hex').slice(0, 16);
}

/** Runs one install step with its output on our stderr, so long downloads and builds show progress. */
function runStep(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 2, 2] });
    child.once('error', (error) =>
      reject(
        new PrerequisiteError(
          `could not run ${command}: ${error.message}`,
          `make sure ${command} is installed`,
        ),
      ),
    );
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with code ${code}`)),
    );
  });
}
