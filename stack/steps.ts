/**
 * Long install commands (go builds, pip installs) under one spinner: their output goes to a log file, its
 * latest line is the spinner's detail, and the log's last lines are in the error when a command fails.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Env } from '../common/env.js';
import type { Logger } from '../common/logger.js';
import { withSpinner } from '../common/progress.js';
import { redactCredentials } from '../common/redact.js';
import { PrerequisiteError } from './prereqs.js';
import { logExcerpt } from './process.js';

export interface InstallStep {
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface InstallTask {
  /** Names the log file: MEL_CACHE_DIR/logs/<name>.log. */
  name: string;
  /** What the spinner says, e.g. "building FerretDB v1.24.2". */
  title: string;
  /** How long it usually takes ("about 2 min"), shown next to the elapsed time. */
  expected?: string;
  steps: InstallStep[];
}

export function installLogFile(env: Env, name: string): string {
  return path.join(env.MEL_CACHE_DIR, 'logs', `${name}.log`);
}

/** Runs the task's steps in order under one spinner; lines for a log (no terminal) go to `log`. */
export async function runInstallTask(env: Env, log: Logger, task: InstallTask): Promise<void> {
  const logFile = installLogFile(env, task.name);
  await mkdir(path.dirname(logFile), { recursive: true });
  const out = createWriteStream(logFile);
  try {
    await withSpinner(
      task.title,
      { expected: task.expected, plain: (line) => log.info(line) },
      async (detail) => {
        for (const step of task.steps) await runStep(step, out, detail);
      },
    );
  } catch (error) {
    await closeStream(out);
    const message = (error as Error).message;
    if (error instanceof PrerequisiteError) throw error;
    throw new Error(`${message}\n${await logExcerpt(logFile)}`, { cause: error });
  }
  await closeStream(out);
}

function runStep(step: InstallStep, out: WriteStream, onLine: (line: string) => void): Promise<void> {
  const commandLine = redactCredentials(`${step.command} ${step.args.join(' ')}`);
  out.write(`$ ${commandLine}\n`);
  return new Promise<void>((resolve, reject) => {
    const child = spawn(step.command, step.args, {
      cwd: step.cwd,
      env: step.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const forward = (chunk: Buffer) => {
      out.write(chunk);
      const last = chunk.toString('utf8').trimEnd().split('\n').at(-1);
      if (last) onLine(redactCredentials(last));
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.once('error', (error) =>
      reject(
        new PrerequisiteError(
          `could not run ${step.command}: ${error.message}`,
          `make sure ${step.command} is installed`,
        ),
      ),
    );
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${commandLine} exited with code ${code}`)),
    );
  });
}

function closeStream(out: WriteStream): Promise<void> {
  return new Promise((resolve) => (out.closed ? resolve() : out.end(resolve)));
}
