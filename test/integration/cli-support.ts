import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { REPO_ROOT } from '../../common/env.js';
import type { RunConfig } from '../../mel/run-config.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const MAIN = path.join(REPO_ROOT, 'cli', 'main.ts');

/**
 * Runs `mel <args>` as a child process, exactly as a user would (with this environment and `env` over it), and
 * returns its exit code and output.
 */
export function mel(args: string[], timeoutMs = 240_000, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      [MAIN, ...args],
      { cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 32 << 20, env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `mel <args>`, expecting success; its standard output. */
export async function melOk(args: string[], timeoutMs?: number, env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await mel(args, timeoutMs, env);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

/** `mel <args> --json`, expecting success; the parsed output. */
export async function melJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await melOk([...args, '--json'])) as T;
}

export async function writeConfigFile(config: RunConfig): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mel-cli-'));
  const file = path.join(dir, `${config.runId}.json`);
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

/** Polls `mel status --json` until `done` holds for it. */
export async function waitForStatus<T>(
  runId: string,
  done: (status: T) => boolean,
  timeoutMs = 180_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await melJson<T>(['status', runId]);
    if (done(status)) return status;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting on run ${runId}: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
