/** Runs the project's Python scripts (in the engine's venv) offline, as child processes. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** engine/python/: the scripts that serve the engine or inspect its models. */
export const ENGINE_PYTHON_DIR = fileURLToPath(new URL('python/', import.meta.url));

/** Keeps model code from reaching for a hub: everything it loads is local. */
const PYTHON_ENV = { HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', TOKENIZERS_PARALLELISM: 'false' };

/** Runs `script` (a path) with `python`, `stdin` on its standard input; resolves with its stdout. */
export function runPythonScript(
  python: string,
  script: string,
  args: string[],
  stdin?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script, ...args], {
      env: { ...process.env, ...PYTHON_ENV },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${path.basename(script)} exited with ${code}: ${stderr.slice(-2000)}`)),
    );
    child.stdin.end(stdin ?? '');
  });
}

/** Target logprobs of each sequence under a local model folder (transformers, CPU; score_tokens.py). */
export async function scoreWithTransformers(
  python: string,
  modelDir: string,
  sequences: readonly (readonly number[])[],
): Promise<number[][]> {
  const script = path.join(ENGINE_PYTHON_DIR, 'score_tokens.py');
  const stdout = await runPythonScript(python, script, [modelDir], JSON.stringify({ sequences }));
  return (JSON.parse(stdout) as { logprobs: number[][] }).logprobs;
}
