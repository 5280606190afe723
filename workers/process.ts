/**
 * A worker in a process (and process group) of its own, as `npm run worker` runs it: what the crash tests and the
 * chaos drill start, kill with SIGKILL and start again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../common/env.js';
import type { TaskQueueRole } from '../temporal/contracts/common.js';

export interface WorkerProcessOptions {
  /** Output (stdout and stderr) is appended here. */
  logFile: string;
  /** A subset of the roles (`--roles`); all of them by default. */
  roles?: TaskQueueRole[];
  /** The child's environment; this process's by default. */
  env?: NodeJS.ProcessEnv;
}

export function spawnWorkerProcess({
  logFile,
  roles,
  env = process.env,
}: WorkerProcessOptions): ChildProcess {
  const log = openSync(logFile, 'a');
  try {
    const args = ['workers/main.ts', ...(roles ? ['--roles', roles.join(',')] : [])];
    return spawn(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), args, {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', log, log],
      env,
    });
  } finally {
    closeSync(log);
  }
}

/** Signals the child's whole process group (tsx runs the worker in a child of its own); quiet if it is gone. */
export function signalProcessGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}
