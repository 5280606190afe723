/**
 * An engine of our own for one job (the warm-model build, its CI trace): serves a given model folder on a free
 * port, with its database and checkpoints in a temporary folder, and is stopped afterwards. The stack's engine is
 * not touched.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveEndpoints, type Env } from '../common/env.js';
import type { Logger } from '../common/logger.js';
import { TinkerClient } from '../engine/tinker.js';
import { PrerequisiteError } from './prereqs.js';
import { cachePaths } from './install.js';
import { freePort, spawnService, stopProcessGroup, waitUntilReady } from './process.js';
import { serviceSpecs, stateDir } from './services.js';

export interface TemporaryEngine {
  engine: TinkerClient;
  engineUrl: string;
  checkpointsBase: string;
}

/** Runs `work` while a fresh engine serves `modelDir`; stops it and removes its state afterwards. */
export async function withTemporaryEngine<T>(
  env: Env,
  modelDir: string,
  log: Logger,
  work: (served: TemporaryEngine) => Promise<T>,
): Promise<T> {
  const python = cachePaths(env).venvPython;
  if (!existsSync(python)) {
    throw new PrerequisiteError(`the engine venv is missing (${python})`, 'run `npm run stack -- up` once');
  }
  const scratch = await mkdtemp(path.join(tmpdir(), 'mel-engine-'));
  const ownEnv: Env = {
    ...env,
    MEL_ENGINE_PORT: await freePort(),
    MEL_STACK_DIR: scratch,
    MEL_ENGINE_URL: undefined,
  };
  const endpoints = { ...resolveEndpoints(ownEnv), baseModel: modelDir };
  const spec = serviceSpecs(ownEnv, endpoints, { python }).find((candidate) => candidate.name === 'engine')!;
  await mkdir(stateDir(ownEnv, 'engine'), { recursive: true });
  const logFile = path.join(stateDir(ownEnv, 'engine'), 'engine.log');
  const pid = spawnService(spec.launch!.command, spec.launch!.args, logFile, spec.launch!.env);
  log.info({ modelDir, engineUrl: endpoints.engineUrl, log: logFile }, 'starting a temporary engine');
  try {
    await waitUntilReady(
      { name: 'the temporary engine', pid, log: logFile },
      () => spec.ready(),
      env.MEL_STACK_START_TIMEOUT_S * 1000,
    );
    const engine = new TinkerClient({ baseUrl: endpoints.engineUrl, baseModel: modelDir });
    const checkpointsBase = path.join(stateDir(ownEnv, 'engine'), 'checkpoints');
    return await work({ engine, engineUrl: endpoints.engineUrl, checkpointsBase });
  } finally {
    await stopProcessGroup(pid);
    await rm(scratch, { recursive: true, force: true });
  }
}
