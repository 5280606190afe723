/** The engine's Python scripts, run in its venv as child processes, offline. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OFFLINE_ENV, runPythonScript } from '../common/python-script.js';

/** engine/python/: the scripts that serve the engine or inspect its models. */
export const ENGINE_PYTHON_DIR = fileURLToPath(new URL('python/', import.meta.url));

/** Target logprobs of each sequence under a local model folder (transformers, CPU; score_tokens.py). */
export async function scoreWithTransformers(
  python: string,
  modelDir: string,
  sequences: readonly (readonly number[])[],
): Promise<number[][]> {
  const script = path.join(ENGINE_PYTHON_DIR, 'score_tokens.py');
  const stdout = await runPythonScript(python, script, [modelDir], JSON.stringify({ sequences }), {
    env: OFFLINE_ENV,
  });
  return (JSON.parse(stdout) as { logprobs: number[][] }).logprobs;
}
