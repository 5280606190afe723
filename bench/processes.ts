/** The processes one measured configuration runs beside the stack: the engine double and a worker process. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '../common/env.js';
import { spawnService, stopProcessGroup } from '../stack/process.js';

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

let stopping: Promise<void> | undefined;

/**
 * Exits with `code`, unless a signal's clean-up is under way (whose stopping of the store fails the measurement
 * that is running): then that clean-up finishes and exits.
 */
export function exitUnlessStopping(code: number): void {
  if (stopping) return;
  process.exit(code);
}

/**
 * Ctrl-C or SIGTERM: run `cleanUp` (stop the processes and the stack a benchmark started), then exit. Returns the
 * function that removes the handlers again.
 */
export function stopOnSignal(cleanUp: () => Promise<void>): () => void {
  // Every signal, not once: Ctrl-C reaches both tsx and this process, and tsx relays it, so it comes twice.
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    console.error(`\n${signal}: stopping the benchmark's processes`);
    stopping = cleanUp().finally(() => process.exit(130));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
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

export async function logContains(file: string, text: string): Promise<boolean> {
  return (await readFile(file, 'utf8').catch(() => '')).includes(text);
}
