/** What the workflow unit tests share: the workflows' path and the Temporal CLI that the local test server runs. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEnv } from '../../../common/env.js';
import { cachePaths } from '../../../stack/install.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../../workflows/index.ts', import.meta.url));

/**
 * The Temporal CLI the stack installs (`.cache/bin/temporal`, or `temporal` on PATH, as stack/install.ts picks it).
 * Nothing is downloaded: without it the tests fail and say how to install it.
 */
export function temporalCliPath(): string {
  const installed = cachePaths(loadEnv()).temporalCli;
  if (existsSync(installed)) return installed;
  const onPath = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, 'temporal'))
    .find((candidate) => existsSync(candidate));
  if (onPath) return onPath;
  throw new Error(
    `no Temporal CLI at ${installed} nor on PATH: the workflow tests run a local Temporal test server on it. ` +
      'Install it with `npm run stack -- up` (`npm test` installs it before running the tests).',
  );
}
