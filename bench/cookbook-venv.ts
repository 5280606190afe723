/**
 * The venv of the benchmark's peer, tinker-cookbook (bench/cookbook/requirements.txt, pinned by constraints.txt),
 * installed once under MEL_CACHE_DIR/cookbook-venv the way stack/install.ts installs the engine's: a stamp keyed
 * by the pin files skips a second install and a changed pin rebuilds it.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, type Env } from '../common/env.js';
import type { Logger } from '../common/logger.js';
import { cached, hashFiles, PIP_INSTALL } from '../stack/install.js';
import { requirePython } from '../stack/prereqs.js';
import { runInstallTask } from '../stack/steps.js';

export const COOKBOOK_DIR = path.join(REPO_ROOT, 'bench', 'cookbook');

export function cookbookVenvPaths(env: Env) {
  const venv = path.join(env.MEL_CACHE_DIR, 'cookbook-venv');
  return { venv, python: path.join(venv, 'bin', 'python') };
}

/** The venv's python, installed first if the stamp does not match the pin files. */
export async function ensureCookbookVenv(env: Env, log: Logger): Promise<string> {
  const paths = cookbookVenvPaths(env);
  const requirements = path.join(COOKBOOK_DIR, 'requirements.txt');
  const constraints = path.join(COOKBOOK_DIR, 'constraints.txt');
  const key = await hashFiles([requirements, constraints]);
  return cached(env, 'cookbook-venv', key, paths.python, log, async () => {
    const python = await requirePython();
    await rm(paths.venv, { recursive: true, force: true });
    await runInstallTask(env, log, {
      name: 'cookbook-venv',
      title: `creating the tinker-cookbook venv with ${python} (tinker-cookbook, tinker, torch; 6 GB)`,
      expected: '2–5 min',
      steps: [
        { command: python, args: ['-m', 'venv', paths.venv] },
        { command: paths.python, args: [...PIP_INSTALL, '--upgrade', 'pip'] },
        { command: paths.python, args: [...PIP_INSTALL, '-r', requirements, '-c', constraints] },
        {
          command: paths.python,
          args: ['-c', 'import tinker_cookbook.rl.train, tinker_cookbook.recipes.math_rl.math_env'],
        },
      ],
    });
  });
}
