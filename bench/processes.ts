/** The processes one measured configuration runs beside the stack: the engine double and a worker process. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../common/env.js';
import { isAlive, logExcerpt, spawnService, stopProcessGroup } from '../stack/process.js';

export interface BenchProcess {
  name: string;
  pid: number;
  log: string;
  /** Peak resident memory so far (VmHWM), in MB; null where /proc is not available. */
  peakRssMb(): Promise<number | null>;
  stop(): Promise<void>;
}

const running = new Set<BenchProcess>();

/** Stops every process started here that is still running (on Ctrl-C, say). */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop()));
}

/** A TypeScript entry point of the project in its own node process (no tsx wrapper, so its pid is the process). */
export function startTsProcess(
  name: string,
  entry: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv,
): BenchProcess {
  const pid = spawnService(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, entry), ...args],
    logFile,
    {
      ...env,
      NODE_OPTIONS: env.NODE_OPTIONS ?? '',
    },
  );
  const child: BenchProcess = {
    name,
    pid,
    log: logFile,
    peakRssMb: () => peakRssMb(pid),
    stop: async () => {
      running.delete(child);
      await stopProcessGroup(pid, 10_000);
    },
  };
  running.add(child);
  return child;
}

async function peakRssMb(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

/** Waits until `ready()` holds, failing with the process's log excerpt if it dies or `timeoutMs` passes. */
export async function waitUntilReady(
  child: BenchProcess,
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

export async function logContains(file: string, text: string): Promise<boolean> {
  return (await readFile(file, 'utf8').catch(() => '')).includes(text);
}
