import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { redactCredentials } from '../common/redact.js';

/** Starts a long-lived service in its own process group, output appended to `logFile`; `runAs` as root only. */
export function spawnService(
  command: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv,
  runAs?: { uid: number; gid: number },
): number {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env, ...runAs });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stops the whole process group (the engine has a child process), politely first. */
export async function stopProcessGroup(pid: number, graceMs = 15_000, signal: NodeJS.Signals = 'SIGTERM') {
  signalGroup(pid, signal);
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) signalGroup(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
}

function signalGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** `log: <file>` and its last lines, indented and credentials masked: for an error whose details are in a log. */
export async function logExcerpt(file: string): Promise<string> {
  const tail = redactCredentials(await tailOf(file))
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
  return `  log: ${file}\n  last lines:\n${tail}`;
}

export async function tailOf(file: string, lines = 20): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log written)';
  }
}

/** A TCP port on loopback that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/** Waits until `ready()` holds, failing with the process's log excerpt if it dies or `timeoutMs` passes. */
export async function waitUntilReady(
  child: { name: string; pid: number; log: string },
  ready: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(child.pid))
      throw new Error(`${child.name} exited while starting\n${await logExcerpt(child.log)}`);
    if (await ready().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`${child.name} was not ready after ${timeoutMs / 1000} s\n${await logExcerpt(child.log)}`);
}

export async function answersHttp(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return response.ok;
}
