/**
 * The drill's workers: one process per group of task queues (WORKER_GROUPS), each as `npm run worker -- --roles`
 * runs it, started, killed with SIGKILL and started again. A worker that exits without being killed is a finding:
 * it is counted, logged and started again, so the drill goes on.
 */
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../common/logger.js';
import { tailOf } from '../stack/process.js';
import { signalProcessGroup, spawnWorkerProcess } from '../workers/process.js';
import { WORKER_GROUPS, type WorkerGroup } from './schedule.js';
import { DrillAbort, waitFor } from './wait.js';

interface Running {
  child: ChildProcess;
  logFile: string;
  killed: boolean;
}

export interface UnexpectedExit {
  group: WorkerGroup;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  log: string;
}

export class DrillWorkers {
  private readonly running = new Map<WorkerGroup, Running>();
  private readonly starts = new Map<WorkerGroup, number>();
  readonly unexpectedExits: UnexpectedExit[] = [];
  private closing = false;

  constructor(
    private readonly options: {
      dir: string;
      env: NodeJS.ProcessEnv;
      startTimeoutMs: number;
      log: Logger;
    },
  ) {}

  async startAll(): Promise<void> {
    await Promise.all((Object.keys(WORKER_GROUPS) as WorkerGroup[]).map((group) => this.start(group)));
  }

  /** Starts the group's process and waits (bounded) until it polls its task queues. */
  async start(group: WorkerGroup): Promise<number> {
    const n = (this.starts.get(group) ?? 0) + 1;
    this.starts.set(group, n);
    const logFile = path.join(this.options.dir, `worker-${group}-${n}.log`);
    const child = spawnWorkerProcess({ logFile, roles: [...WORKER_GROUPS[group]], env: this.options.env });
    const entry: Running = { child, logFile, killed: false };
    this.running.set(group, entry);
    child.once('exit', (code, signal) => {
      if (entry.killed || this.closing) return;
      this.unexpectedExits.push({ group, pid: child.pid, code, signal, log: logFile });
      this.options.log.error(
        { group, pid: child.pid, code, signal, log: logFile },
        'a worker process exited without being killed; starting it again',
      );
      if (this.running.get(group) === entry) void this.start(group).catch(() => undefined);
    });
    const startedAt = Date.now();
    await waitFor(
      `worker process ${group} (${logFile}) to poll its task queues`,
      this.options.startTimeoutMs,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new DrillAbort(`it exited during start-up; last lines:\n${await tailOf(logFile)}`);
        }
        const text = await readFile(logFile, 'utf8').catch(() => '');
        return text.includes('workers running') || undefined;
      },
    );
    this.options.log.info(
      { group, pid: child.pid, seconds: (Date.now() - startedAt) / 1000, log: logFile },
      'worker process running',
    );
    return child.pid!;
  }

  /** SIGKILL of the groups' whole process groups, no clean shutdown; returns the pids killed. */
  kill(groups: readonly WorkerGroup[]): number[] {
    const pids: number[] = [];
    for (const group of groups) {
      const entry = this.running.get(group);
      if (!entry) continue;
      entry.killed = true;
      signalProcessGroup(entry.child, 'SIGKILL');
      if (entry.child.pid !== undefined) pids.push(entry.child.pid);
      this.running.delete(group);
    }
    return pids;
  }

  /** Stops every worker process (SIGTERM, then SIGKILL after `graceMs`). */
  async close(graceMs = 10_000): Promise<void> {
    this.closing = true;
    const children = [...this.running.values()].map((entry) => entry.child);
    this.running.clear();
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        signalProcessGroup(child, 'SIGTERM');
        const timer = setTimeout(() => signalProcessGroup(child, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
