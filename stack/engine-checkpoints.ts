import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadEnv, REPO_ROOT, type Env } from '../common/env.js';
import { cachePaths } from './install.js';
import { stateDir } from './services.js';

/**
 * The optimizer's own step counter in a saved training state of the local SkyRL engine
 * (`engine/python/checkpoint_info.py`): how many optimizer updates produced these weights, whatever the
 * orchestrator recorded.
 */
export async function optimizerStepsIn(statePath: string, env: Env = loadEnv()): Promise<number> {
  const match = /^tinker:\/\/([^/]+)\/weights\/(.+)$/.exec(statePath);
  if (!match) throw new Error(`not a training-state path: ${statePath}`);
  const dir = path.join(stateDir(env, 'engine'), 'checkpoints', match[1]!, `${match[2]}.tar.gz`);
  const script = path.join(REPO_ROOT, 'engine', 'python', 'checkpoint_info.py');
  const { stdout } = await promisify(execFile)(cachePaths(env).venvPython, [script, dir], {
    env: { ...process.env, JAX_PLATFORMS: 'cpu' },
    timeout: 120_000,
  });
  return (JSON.parse(stdout) as { optimizer_steps: number }).optimizer_steps;
}
