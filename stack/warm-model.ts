/**
 * The warm-started tiny model is committed in the repository (tiny-model/artifact/) and served as it is: the stack
 * never trains. When the code that builds it has changed since, the stack says so in one warning line.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, WARM_MODEL_DIR, type Env } from '../common/env.js';
import type { Logger } from '../common/logger.js';
import { readStamp, staleArtifactWarning } from '../tiny-model/artifact.js';
import { workingTreeKey } from '../tiny-model/code-key.js';

/** The project serves the committed warm model only when it runs the engine itself and no other model was chosen. */
export function servesWarmModel(env: Env): boolean {
  return !env.MEL_ENGINE_URL && !env.MEL_BASE_MODEL;
}

/** Logs one warning line when the committed warm model was built from other code than this checkout's. */
export async function checkWarmModel(
  env: Env,
  log: Pick<Logger, 'warn'>,
  artifactDir = WARM_MODEL_DIR,
  repoRoot = REPO_ROOT,
): Promise<void> {
  if (!servesWarmModel(env)) return;
  if (!existsSync(path.join(artifactDir, 'model.safetensors'))) {
    throw new Error(
      `the committed warm model is missing (${artifactDir}/model.safetensors); restore it with ` +
        '`git checkout -- tiny-model/artifact` or build it with `npm run tiny-model -- rebuild --replace`',
    );
  }
  const warning = staleArtifactWarning(await readStamp(artifactDir), workingTreeKey(repoRoot).key);
  if (warning) log.warn(warning);
}
