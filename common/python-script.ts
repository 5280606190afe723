/** Runs a Python script as a child process: a JSON request on stdin, its answer on stdout. */
import { spawn } from 'node:child_process';
import path from 'node:path';

/** Keeps model code from reaching for a hub: everything it loads is local. */
export const OFFLINE_ENV = {
  HF_HUB_OFFLINE: '1',
  TRANSFORMERS_OFFLINE: '1',
  HF_DATASETS_OFFLINE: '1',
  TOKENIZERS_PARALLELISM: 'false',
} as const;

export interface PythonRunOptions {
  /** Killed (and the promise rejected) when it runs longer. */
  timeoutMs?: number;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
}

/** Runs `script` (a path) with `python`, `stdin` on its standard input; resolves with its stdout. */
export function runPythonScript(
  python: string,
  script: string,
  args: string[],
  stdin?: string,
  options: PythonRunOptions = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`${path.basename(script)} ran over ${options.timeoutMs} ms and was stopped`));
          }, options.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${path.basename(script)} exited with ${code}: ${stderr.slice(-2000)}`));
    });
    child.stdin.end(stdin ?? '');
  });
}
