/**
 * A real MLflow tracking server for a test: PyPI `mlflow` (test/integration/mlflow/, pinned) in a venv under
 * MEL_CACHE_DIR built once, serving a fresh SQLite store on a free loopback port until `stop()`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadEnv, REPO_ROOT } from '../../common/env.js';
import { createLogger } from '../../common/logger.js';
import { ensureVenv } from '../../stack/install.js';
import {
  answersHttp,
  freePort,
  spawnService,
  stopProcessGroup,
  waitUntilReady,
} from '../../stack/process.js';

const PINS = path.join(REPO_ROOT, 'test', 'integration', 'mlflow');

export interface MlflowServer {
  uri: string;
  log: string;
  stop(): Promise<void>;
}

export async function startMlflowServer(): Promise<MlflowServer> {
  const env = loadEnv();
  const python = await ensureVenv(env, createLogger('mlflow-server'), {
    name: 'mlflow-venv',
    dir: path.join(env.MEL_CACHE_DIR, 'mlflow-venv'),
    requirements: path.join(PINS, 'requirements.txt'),
    constraints: path.join(PINS, 'constraints.txt'),
    check: 'import mlflow.server',
    title: 'the MLflow server venv for tests (850 MB)',
    expected: 'about 1 min',
  });
  const dir = await mkdtemp(path.join(tmpdir(), 'mel-mlflow-'));
  const port = await freePort();
  const log = path.join(env.MEL_STACK_DIR, 'mlflow-server.log');
  const args = ['server', '--host', '127.0.0.1', '--port', String(port), '--workers', '1'];
  args.push(
    '--backend-store-uri',
    `sqlite:///${dir}/mlflow.db`,
    '--default-artifact-root',
    `${dir}/artifacts`,
  );
  // `python -m`, not the venv's `mlflow` script: a script's first line names the path the venv was made at, and a
  // cache directory reached through another path (a moved checkout, a link) would not run it.
  const pid = spawnService(python, ['-m', 'mlflow', ...args], log, process.env);
  const uri = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopProcessGroup(pid);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(
      { name: 'the MLflow server', pid, log },
      () => answersHttp(`${uri}/health`),
      180_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { uri, log, stop };
}
